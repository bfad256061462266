//! The log lines' timestamp, `2026-12-02T02:02:43.501430Z` (RFC 3339, UTC, microseconds): the
//! same text as tracing-subscriber's `SystemTime` timer, with the date and time to the second
//! worked out once a second per thread instead of for every line (a gateway under load logs
//! thousands of lines a second; the calendar arithmetic and its formatting were a tenth of a
//! line's cost).

use std::cell::Cell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// `YYYY-MM-DDTHH:MM:SS.`: what stays the same for a whole second.
const SECOND_PREFIX: usize = 20;

#[derive(Debug, Clone, Copy, Default)]
pub struct CachedUtcTime;

thread_local! {
    /// The last second formatted on this thread, and its text.
    static LAST_SECOND: Cell<Option<(u64, [u8; SECOND_PREFIX])>> = const { Cell::new(None) };
}

impl FormatTime for CachedUtcTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let second = since_epoch.as_secs();
        let prefix = match LAST_SECOND.get() {
            Some((cached, prefix)) if cached == second => prefix,
            _ => {
                let prefix = second_prefix(second);
                LAST_SECOND.set(Some((second, prefix)));
                prefix
            }
        };
        let mut line = [0u8; SECOND_PREFIX + 7];
        line[..SECOND_PREFIX].copy_from_slice(&prefix);
        write_digits(&mut line[SECOND_PREFIX..][..6], since_epoch.subsec_micros());
        line[SECOND_PREFIX + 6] = b'Z';
        // Only ASCII digits and punctuation were written.
        w.write_str(std::str::from_utf8(&line).map_err(|_| fmt::Error)?)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` of a second since the epoch (UTC; years up to 9999).
fn second_prefix(second: u64) -> [u8; SECOND_PREFIX] {
    let days = second / 86_400;
    let of_day = second % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut text = String::with_capacity(SECOND_PREFIX);
    let _ = write!(
        text,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
        year.min(9999),
        month,
        day,
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    let mut prefix = [b'0'; SECOND_PREFIX];
    prefix.copy_from_slice(&text.as_bytes()[..SECOND_PREFIX]);
    prefix
}

/// Year, month (1–12) and day (1–31) of a day since 1970-01-01, in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `value` as `out.len()` decimal digits, zero-padded.
fn write_digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calendar the slow way: whole years, then whole months.
    fn civil_by_counting(mut days: u64) -> (u64, u64, u64) {
        let leap =
            |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let mut year = 1970;
        loop {
            let length = if leap(year) { 366 } else { 365 };
            if days < length {
                break;
            }
            days -= length;
            year += 1;
        }
        let lengths = [
            31,
            if leap(year) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut month = 1;
        for length in lengths {
            if days < length {
                break;
            }
            days -= length;
            month += 1;
        }
        (year, month, days + 1)
    }

    #[test]
    fn the_calendar_matches_counting_days_from_1970_to_2500() {
        // Every 7th day over five centuries, and every day around 2000 and 2100 (a leap
        // century and a common one).
        let around = |year: u64| {
            let start = (year - 1970) * 365 + (year - 1969) / 4 - 2;
            start..start + 3 * 366
        };
        let days = (0..530 * 366)
            .step_by(7)
            .chain(around(1999))
            .chain(around(2099));
        for day in days {
            assert_eq!(civil_from_days(day), civil_by_counting(day), "day {day}");
        }
    }

    #[test]
    fn known_instants_are_written_as_rfc_3339_with_microseconds() {
        let text = |second: u64, micros: u32| {
            let mut line = second_prefix(second).to_vec();
            let mut digits = [0u8; 6];
            write_digits(&mut digits, micros);
            line.extend_from_slice(&digits);
            line.push(b'Z');
            String::from_utf8(line).unwrap()
        };
        assert_eq!(text(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(text(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(text(1_798_761_599, 999_999), "2026-12-31T23:59:59.999999Z");
        assert_eq!(text(1_796_176_963, 501_430), "2026-12-02T02:02:43.501430Z");
        assert_eq!(text(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
    }

    #[test]
    fn a_line_reads_like_tracing_subscribers_own_timer() {
        use tracing_subscriber::fmt::time::SystemTime as Reference;
        let format = |timer: &dyn FormatTime| {
            let mut text = String::new();
            timer.format_time(&mut Writer::new(&mut text)).unwrap();
            text
        };
        // Both within the same second (retried if a second boundary fell between them).
        for _ in 0..5 {
            let ours = format(&CachedUtcTime);
            let theirs = format(&Reference);
            if ours[..SECOND_PREFIX] == theirs[..SECOND_PREFIX] {
                assert_eq!(ours.len(), theirs.len(), "{ours} {theirs}");
                assert!(
                    ours.ends_with('Z')
                        && ours.as_bytes()[SECOND_PREFIX..26]
                            .iter()
                            .all(u8::is_ascii_digit),
                    "{ours}"
                );
                return;
            }
        }
        panic!("never formatted the same second");
    }
}
