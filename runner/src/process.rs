//! Starting the runner binary as a process and reading its banner: what the integration
//! tests (`tests/it`), the load test and the bench share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts the runner at `binary` with `env` and `PORT=0`, its log going to `log`, reads the
/// URL and dev token from its banner, and keeps draining its stdout (a closed pipe would
/// fail its next line).
pub fn start_runner(binary: &Path, env: &[(String, String)], log: Stdio) -> std::io::Result<(Child, String, String)> {
    let mut command = Command::new(binary);
    command.env("PORT", "0").stdout(Stdio::piped()).stderr(log);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let (mut base, mut token) = (String::new(), String::new());
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(at) = line.find(" on http://") {
            base = line[at + 4..].trim().to_string();
        }
        if let Some(t) = line.trim().strip_prefix("export TOKEN=") {
            token = t.to_string();
            break;
        }
    }
    if base.is_empty() || token.is_empty() {
        let _ = child.kill();
        return Err(std::io::Error::other("the runner did not print its URL and token"));
    }
    std::thread::spawn(move || lines.for_each(drop));
    Ok((child, base, token))
}
