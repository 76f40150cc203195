//! Reading inputs and writing outputs: files or stdin/stdout (`-`), atomic replacement.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes one line to stdout. When stdout is closed (a pipe whose reader has gone), the
/// process ends quietly with the status a SIGPIPE would give; other write errors end it with
/// status 2 and a message.
pub fn out(line: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_fmt(line)
        .and_then(|()| stdout.write_all(b"\n"))
    {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("error: cannot write standard output: {err}");
        std::process::exit(2);
    }
}

/// A new file next to `path` with a random name, created exclusively (never following a link
/// someone placed there), and its path.
pub fn create_temp(dir: &Path, stem: &str) -> Result<(fs::File, PathBuf)> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).context("no randomness for a temporary file name")?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let temp = dir.join(format!(".{stem}.{suffix}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(&temp)
        .with_context(|| format!("cannot create {}", temp.display()))?;
    Ok((file, temp))
}

/// Reads a file, or stdin for `-`.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        Ok(bytes)
    } else {
        fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

/// Writes to a file, or to stdout for `-`. A file is replaced atomically: the bytes go to a new
/// temporary file beside it (created exclusively, with a random name), which is synced, given
/// the old file's permissions, and renamed over it; then the directory is synced. A crash
/// leaves the old file or the new one, never a torn one. (Two writers at once: the last rename
/// wins; nothing here locks.)
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)
            .context("cannot write standard output")?;
        return out.flush().context("cannot write standard output");
    }
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let (mut file, temp) = create_temp(dir, &name.to_string_lossy())?;
    let result = (|| -> Result<()> {
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", temp.display()))?;
        if let Ok(metadata) = fs::metadata(path) {
            fs::set_permissions(&temp, metadata.permissions())
                .with_context(|| format!("cannot set the permissions of {}", temp.display()))?;
        }
        fs::rename(&temp, path).with_context(|| format!("cannot replace {}", path.display()))?;
        // The rename is only durable once the directory is.
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes a new file that must not exist yet (for keystores: never overwrite a key).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "cannot create {} (an existing keystore is never overwritten)",
            path.display()
        )
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The name to show for an input path.
pub fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".into()
    } else {
        path.display().to_string()
    }
}
