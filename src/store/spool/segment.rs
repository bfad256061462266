//! Segment files: `<spool>/segments/<NAME>.seg`, append-only, read whole at start.
//!
//! The running server appends to the one segment it owns (the writer thread's); every other
//! segment is closed for good. A command-line tool (`quarantine release`, `queue delete`)
//! writes a whole segment of its own under `tmp/`, fsyncs it and renames it into `segments/`,
//! so that a segment appears there complete or not at all.

use super::index::{Index, Location};
use super::record::{self, Damage, Decoded, MessageKey, Record};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const SEGMENTS: &str = "segments";
pub const TMP: &str = "tmp";
const SUFFIX: &str = ".seg";

/// A new segment name: unique across processes and sortable by time.
pub fn new_name() -> String {
    crate::store::new_queue_id()
}

pub fn path_of(root: &Path, name: &str) -> PathBuf {
    root.join(SEGMENTS).join(format!("{name}{SUFFIX}"))
}

/// The names of the segments in `<root>/segments/` (none if the folder does not exist).
pub fn list(root: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(root.join(SEGMENTS)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(SUFFIX).map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// What reading one segment found besides its records.
#[derive(Debug)]
pub struct Loaded {
    /// Messages of this segment that wait.
    pub arrived: Vec<String>,
    /// Where and why the readable part ends early (a torn or corrupt tail).
    pub damage: Option<(usize, Damage)>,
}

/// Reads segment `name` into `index`: its messages first, then its markers (so that a marker
/// about a message of the same segment finds it). `Ok(None)`: the segment was deleted meanwhile.
pub fn load(root: &Path, name: &str, index: &mut Index) -> io::Result<Option<Loaded>> {
    let bytes = match fs::read(path_of(root, name)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    index.add_segment(name, bytes.len() as u64);
    let mut arrived = Vec::new();
    let mut markers = Vec::new();
    let mut damage = None;
    match record::check_magic(&bytes) {
        Err(bad) => damage = Some((0, bad)),
        Ok(mut at) => loop {
            match record::decode_next(&bytes, at) {
                Decoded::End => break,
                Decoded::Damaged { at, damage: why } => {
                    damage = Some((at, why));
                    break;
                }
                Decoded::Record { record, next } => {
                    if let Record::Message { entry, bytes } = record {
                        let location = Location {
                            offset: (next - bytes.len()) as u64,
                            len: bytes.len() as u64,
                        };
                        let id = entry.id.clone();
                        let key = MessageKey {
                            segment: name.to_string(),
                            id: id.clone(),
                        };
                        if index.insert_message(key, *entry, location) {
                            arrived.push(id);
                        }
                    } else {
                        markers.push(record);
                    }
                    at = next;
                }
            }
        },
    }
    for marker in &markers {
        index.apply_marker(name, marker);
    }
    arrived.retain(|id| index.live(id).is_some_and(|(key, _)| key.segment == name));
    Ok(Some(Loaded { arrived, damage }))
}

/// Reads a message's bytes.
pub fn read_bytes(root: &Path, segment: &str, at: Location) -> io::Result<Vec<u8>> {
    let file = File::open(path_of(root, segment))?;
    let len = usize::try_from(at.len).map_err(io::Error::other)?;
    let mut bytes = vec![0; len];
    file.read_exact_at(&mut bytes, at.offset)?;
    Ok(bytes)
}

/// How far ahead of the last record the running server's segment is written with zeros. An
/// fsync after appending to the end of a file also commits the file's new size and blocks (a
/// filesystem journal commit); one after writing over zeros already there is the data alone:
/// half the time and half the CPU per fsync on ext4 (measured: `bench/README.md`). The zeros
/// are written once per this many bytes of messages; on a disk too full for them the segment
/// grows record by record, as before.
pub const ZERO_AHEAD: u64 = 2 * 1024 * 1024;

/// Zeros written at once (a static buffer: no allocation).
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// The segment the running server appends to: [`record::MAGIC`], the records, then zeros up
/// to the end of the file (at most [`ZERO_AHEAD`] past the records). A reader stops at the
/// zeros ([`record::decode_next`]: a clean end).
pub struct Appender {
    pub name: String,
    file: File,
    /// Where the records end (and the next one goes).
    pub size: u64,
    /// The file's length: everything from `size` to here is zeros.
    zeroed_to: u64,
    /// False once writing the zeros failed (a full disk): not tried again in this segment.
    zero_ahead: bool,
}

impl Appender {
    /// Creates a new segment (its magic written and, with the folder, fsync'd).
    pub fn create(root: &Path) -> io::Result<Appender> {
        let name = new_name();
        let path = path_of(root, &name);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let created = file
            .write_all(record::MAGIC)
            .and_then(|()| file.sync_all())
            .and_then(|()| crate::store::fsync_dir(&root.join(SEGMENTS)));
        if let Err(e) = created {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        let size = record::MAGIC.len() as u64;
        Ok(Appender {
            name,
            file,
            size,
            zeroed_to: size,
            zero_ahead: true,
        })
    }

    /// Cuts the segment back to its magic (fsync'd): every record in it is gone.
    pub fn empty_in_place(&mut self) -> io::Result<()> {
        let empty = record::MAGIC.len() as u64;
        self.file.set_len(empty)?;
        self.zeroed_to = empty;
        self.file.sync_data()?;
        self.size = empty;
        Ok(())
    }

    /// Appends `batch` (whole records), fsync'd if `durable`. On failure the segment is cut
    /// back to where it was; `Err(.., false)` if even that failed (the segment must not be
    /// appended to again).
    pub fn append(&mut self, batch: &[u8], durable: bool) -> Result<(), (io::Error, bool)> {
        let end = self.size + batch.len() as u64;
        if end > self.zeroed_to && self.zero_ahead {
            self.write_zeros_to(end + ZERO_AHEAD);
        }
        if let Err(e) = self.file.write_all_at(batch, self.size) {
            // A full disk: the records written in part are cut off again.
            return Err((e, self.cut_back()));
        }
        if durable {
            if let Err(e) = self.file.sync_data() {
                // After a failed fsync the page cache cannot be trusted: a new segment.
                self.cut_back();
                return Err((e, false));
            }
        }
        self.size = end;
        self.zeroed_to = self.zeroed_to.max(end);
        Ok(())
    }

    /// Cuts the file back to the records (the zeros after them too); true if that worked.
    fn cut_back(&mut self) -> bool {
        self.zeroed_to = self.size;
        self.file.set_len(self.size).is_ok()
    }

    /// Writes zeros from `zeroed_to` to `to` (no fsync of their own: the batch's fsync makes
    /// them durable with it, and a crash before leaves zeros or nothing). On failure they are
    /// taken back, and the segment grows record by record from then on.
    fn write_zeros_to(&mut self, to: u64) {
        let mut at = self.zeroed_to;
        while at < to {
            let chunk = (to - at).min(ZEROS.len() as u64) as usize;
            if let Err(e) = self.file.write_all_at(&ZEROS[..chunk], at) {
                tracing::warn!(segment = %self.name, error = %e, "spool: no room for the zeros ahead of the records; the segment grows with each batch");
                self.zero_ahead = false;
                let _ = self.file.set_len(self.zeroed_to);
                return;
            }
            at += chunk as u64;
        }
        self.zeroed_to = to;
    }
}

/// Writes a whole segment of `batch` (records after the magic) for a command-line tool: under
/// `tmp/`, fsync'd, renamed into `segments/`, the folder fsync'd. Nothing is left on failure.
pub fn write_whole(root: &Path, batch: &[u8]) -> io::Result<String> {
    let name = new_name();
    let tmp = root.join(TMP).join(format!("{name}{SUFFIX}"));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(record::MAGIC)?;
        file.write_all(batch)?;
        file.sync_all()?;
        fs::rename(&tmp, path_of(root, &name))?;
        crate::store::fsync_dir(&root.join(SEGMENTS))
    })();
    match written {
        Ok(()) => Ok(name),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Creates `segments/` and `tmp/` if missing.
pub fn create_folders(root: &Path) -> io::Result<()> {
    for name in [SEGMENTS, TMP] {
        fs::create_dir_all(root.join(name))?;
    }
    Ok(())
}
