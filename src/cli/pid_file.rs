//! `[server] pid_file`: where `serve` writes its process id for `directory reload` and
//! `queue flush`.

/// The process id in `[server] pid_file`, for `supportgate directory reload`; removed at stop
/// if it still names this process.
pub(super) struct PidFile(std::path::PathBuf);

impl PidFile {
    pub(super) fn write(path: std::path::PathBuf) -> Result<PidFile, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("server.pid_file: {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("server.pid_file: {}: {e}", path.display()))?;
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.0)
            .is_ok_and(|text| text.trim() == std::process::id().to_string());
        if ours {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
