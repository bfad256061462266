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

/// The segment the running server appends to.
pub struct Appender {
    pub name: String,
    file: File,
    pub size: u64,
}

impl Appender {
    /// Creates a new segment (its magic written and, with the folder, fsync'd).
    pub fn create(root: &Path) -> io::Result<Appender> {
        let name = new_name();
        let path = path_of(root, &name);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
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
        Ok(Appender {
            name,
            file,
            size: record::MAGIC.len() as u64,
        })
    }

    /// Cuts the segment back to its magic (fsync'd): every record in it is gone.
    pub fn empty_in_place(&mut self) -> io::Result<()> {
        let empty = record::MAGIC.len() as u64;
        self.file.set_len(empty)?;
        self.file.sync_data()?;
        self.size = empty;
        Ok(())
    }

    /// Appends `batch` (whole records), fsync'd if `durable`. On failure the segment is cut
    /// back to where it was; `Err(.., false)` if even that failed (the segment must not be
    /// appended to again).
    pub fn append(&mut self, batch: &[u8], durable: bool) -> Result<(), (io::Error, bool)> {
        if let Err(e) = self.file.write_all(batch) {
            // A full disk: the records written in part are cut off again.
            let cut = self.file.set_len(self.size);
            return Err((e, cut.is_ok()));
        }
        if durable {
            if let Err(e) = self.file.sync_data() {
                // After a failed fsync the page cache cannot be trusted: a new segment.
                let _ = self.file.set_len(self.size);
                return Err((e, false));
            }
        }
        self.size += batch.len() as u64;
        Ok(())
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
