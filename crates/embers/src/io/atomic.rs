//! Atomic file writes: write to a temporary file in the target's folder, then rename over it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The most bytes handed to one `write` call. One call with a whole matrix (80 MB) cost
/// 50 times the system time of the same bytes in 1 MiB calls on the benchmark machine (Linux
/// 6.x, ext4: 0.96–1.05 s against 0.02 s; BENCHMARKS.md, Formats), and
/// a piece that fits in the cache stays there between the checksum and the copy.
pub const WRITE_PIECE: usize = 1 << 20;

/// A file being written. Nothing appears at the target path until [`AtomicFile::commit`]; if the
/// value is dropped without a commit (an error, a panic, Ctrl-C) the temporary file is removed.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Set once the temporary file has been renamed to the target.
    renamed: bool,
}

impl AtomicFile {
    /// Starts writing `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let target = path.as_ref().to_path_buf();
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| {
                Error::invalid("output", format!("{} is not a file path", target.display()))
            })?
            .to_string_lossy()
            .into_owned();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        remove_stale(&dir, &format!(".{name}.tmp-"), false);
        let temp = dir.join(format!(".{name}.tmp-{}-{nonce}", std::process::id()));
        let file = File::create(&temp).map_err(|e| Error::io(&temp, e))?;
        Ok(AtomicFile {
            target,
            temp,
            writer: Some(BufWriter::with_capacity(1 << 16, file)),
            renamed: false,
        })
    }

    /// The buffered writer of the temporary file.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("writer present until commit")
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Writes all of `bytes`, mapping errors to the target path. Large slices are passed to the
    /// kernel [`WRITE_PIECE`] bytes at a time.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let writer = self.writer.as_mut().expect("writer present until commit");
        for piece in bytes.chunks(WRITE_PIECE) {
            if let Err(e) = writer.write_all(piece) {
                return Err(Error::io(&self.target, e));
            }
        }
        Ok(())
    }

    /// Overwrites bytes already written at `offset` (e.g. a checksum in a header, known only
    /// at the end); later writes continue at the end of the file.
    pub fn patch(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        let target = self.target.clone();
        let w = self.writer();
        w.seek(SeekFrom::Start(offset))
            .and_then(|_| w.write_all(bytes))
            .and_then(|_| w.seek(SeekFrom::End(0)))
            .map(drop)
            .map_err(|e| Error::io(target, e))
    }

    /// Flushes, syncs and renames the temporary file to the target path.
    pub fn commit(mut self) -> Result<()> {
        let mut phases = crate::io::profile::Phases::start("commit");
        let writer = self.writer.take().expect("commit called once");
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&self.target, e.into_error()))?;
        phases.end("flush");
        file.sync_all().map_err(|e| Error::io(&self.target, e))?;
        drop(file);
        phases.end("fsync");
        std::fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.renamed = true;
        phases.end("rename");
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically: the old file, or none, until the new one is complete.
pub fn write_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Whether process `pid` is known to be gone: Linux only (`/proc`); elsewhere, or without a
/// mounted `/proc`, nothing is known and nothing counts as gone.
fn process_gone(pid: u32) -> bool {
    let proc = Path::new("/proc");
    cfg!(target_os = "linux")
        && proc.join("self").exists()
        && pid != std::process::id()
        && !proc.join(pid.to_string()).exists()
}

/// Removes what a killed run left in `dir`: entries named `{prefix}{pid}-…` whose process is
/// gone (files, or folders when `folders`). A run stopped by SIGKILL cannot remove its own
/// temporary file or spill folder; the next run writing the same name cleans up after it.
/// Best effort: errors are ignored, and entries of live processes are never touched. (A process
/// in another PID namespace writing into the same folder looks gone from here; embers' own
/// names include the target's name, so only a writer of the same file could be affected, and it
/// would get an I/O error at its commit, never a wrong file.)
pub(crate) fn remove_stale(dir: &Path, prefix: &str, folders: bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !process_gone(pid) {
            continue;
        }
        let _ = if folders && kind.is_dir() {
            std::fs::remove_dir_all(entry.path())
        } else if !folders && kind.is_file() {
            std::fs::remove_file(entry.path())
        } else {
            Ok(())
        };
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Not committed, or the commit failed (flushing the last buffer, syncing or renaming
        // on a full disk): the temporary file goes.
        if !self.renamed {
            self.writer = None;
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_without_commit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert!(!p.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"whole").unwrap();
        f.patch(1, b"H").unwrap();
        f.write_all(b"!").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"wHole!");
    }

    #[test]
    fn a_failed_commit_leaves_no_temporary_file() {
        // The target is a non-empty folder, so the final rename fails (as a flush or sync on a
        // full disk would fail earlier in the commit).
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("inside"), b"x").unwrap();
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"whole").unwrap();
        let err = f.commit().unwrap_err().to_string();
        assert!(err.contains("out.bin"), "{err}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.bin"], "only the folder stays");
    }

    /// The PID of a process that has exited (and been reaped).
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_next_write_removes_temporary_files_of_killed_runs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let dead = dead_pid();
        let me = std::process::id();
        let stale = d.join(format!(".out.bin.tmp-{dead}-123"));
        let live = d.join(format!(".out.bin.tmp-{me}-456"));
        let other_name = d.join(format!(".other.bin.tmp-{dead}-789"));
        let not_ours = d.join(".out.bin.tmp-notapid");
        for f in [&stale, &live, &other_name, &not_ours] {
            std::fs::write(f, b"partial").unwrap();
        }
        write_bytes(d.join("out.bin"), b"whole").unwrap();
        assert!(!stale.exists(), "a killed run's temporary file is removed");
        assert!(live.exists(), "a live process's temporary file is kept");
        assert!(
            other_name.exists(),
            "only temporary files of the same target are touched"
        );
        assert!(not_ours.exists());
        assert_eq!(std::fs::read(d.join("out.bin")).unwrap(), b"whole");
    }
}
