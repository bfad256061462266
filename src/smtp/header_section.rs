//! Size and field count of a message's header section, measured as the DATA reader emits the
//! message (after dot-unstuffing, with CRLF line endings), so a header flood is refused before
//! anything parses it.
//!
//! The header section is everything before the first empty line (all of the message if there
//! is none); its size counts each field line with its CRLF, not the empty line. A field starts
//! at every line that does not begin with a space or a tab (those continue the field before).

/// Which header limit a message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderLimit {
    Size,
    Count,
}

#[derive(Debug, Clone)]
pub(crate) struct HeaderSection {
    max_size: usize,
    max_count: usize,
    size: usize,
    count: usize,
    at_line_start: bool,
    /// The empty line has been seen: the body follows and is not measured.
    ended: bool,
}

impl HeaderSection {
    pub(crate) fn new(max_size: usize, max_count: usize) -> Self {
        Self {
            max_size,
            max_count,
            size: 0,
            count: 0,
            at_line_start: true,
            ended: false,
        }
    }

    /// Measures emitted message bytes; `Err` once a limit is broken.
    pub(crate) fn measure(&mut self, bytes: &[u8]) -> Result<(), HeaderLimit> {
        for &byte in bytes {
            if self.ended {
                return Ok(());
            }
            if self.at_line_start {
                self.at_line_start = false;
                match byte {
                    // The emitted stream has only CRLF line endings: a CR first is the empty line.
                    b'\r' => {
                        self.ended = true;
                        return Ok(());
                    }
                    b' ' | b'\t' if self.count > 0 => {}
                    _ => {
                        self.count += 1;
                        if self.count > self.max_count {
                            return Err(HeaderLimit::Count);
                        }
                    }
                }
            }
            if byte == b'\n' {
                self.at_line_start = true;
            }
            self.size += 1;
            if self.size > self.max_size {
                return Err(HeaderLimit::Size);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(max_size: usize, max_count: usize, message: &[u8]) -> Result<(), HeaderLimit> {
        let mut section = HeaderSection::new(max_size, max_count);
        // Byte by byte, as the reader may emit it.
        for byte in message {
            section.measure(std::slice::from_ref(byte))?;
        }
        Ok(())
    }

    #[test]
    fn fields_and_continuations_are_counted_up_to_the_empty_line() {
        let message = b"A: 1\r\nB: 2\r\n  continued\r\n\tmore\r\n\r\nC: body, not a field\r\n";
        assert_eq!(measure(1000, 2, message), Ok(()));
        assert_eq!(measure(1000, 1, message), Err(HeaderLimit::Count));
    }

    #[test]
    fn size_counts_the_field_lines_with_their_crlf() {
        let message = b"A: 1\r\nB: 2\r\n\r\n";
        assert_eq!(measure(12, 10, message), Ok(()));
        assert_eq!(measure(11, 10, message), Err(HeaderLimit::Size));
    }

    #[test]
    fn the_body_is_not_measured() {
        let mut message = b"A: 1\r\n\r\n".to_vec();
        message.extend_from_slice(&b"X: y\r\n".repeat(10_000));
        assert_eq!(measure(100, 2, &message), Ok(()));
    }

    #[test]
    fn a_message_without_an_empty_line_is_all_header() {
        assert_eq!(
            measure(100_000, 1000, &b"X:\r\n".repeat(1001)),
            Err(HeaderLimit::Count)
        );
        assert_eq!(
            measure(400, 1000, &b"X:\r\n".repeat(101)),
            Err(HeaderLimit::Size)
        );
    }

    #[test]
    fn an_empty_message_or_one_with_no_header_is_fine() {
        assert_eq!(measure(1, 1, b""), Ok(()));
        assert_eq!(measure(1, 1, b"\r\nbody\r\n"), Ok(()));
    }
}
