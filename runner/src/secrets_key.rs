//! The key that seals stored secrets when the runner stores in DynamoDB (README): as a
//! function's (`SECRETS_KEY_ID`, a KMS key; `WEBHOOKS_SECRETS_KEY`, a local one), or else the
//! local key kept in the file `WEBHOOKS_SECRETS_KEY_FILE` (default `.webhooks-secrets-key`,
//! which git ignores), made on first run.

use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;

use aws_config::SdkConfig;
use shared::config::{ConfigError, env_or};
use shared::sealing::{LocalKey, Sealer};

pub fn sealer(config: &SdkConfig) -> Result<Sealer, shared::Error> {
    match shared::aws::sealer(config) {
        Err(ConfigError::Missing { .. }) => {
            kept_key(&env_or("WEBHOOKS_SECRETS_KEY_FILE", ".webhooks-secrets-key")).map(Sealer::new)
        }
        given => given.map_err(shared::Error::internal),
    }
}

/// The key in the file at `path`, made (readable by its owner only) when there is none.
fn kept_key(path: &str) -> Result<LocalKey, shared::Error> {
    let unreadable = |err: std::io::Error| shared::Error::internal(format!("the secrets key file {path}: {err}"));
    match std::fs::read_to_string(path) {
        Ok(text) => return shared::aws::local_key(&text).map_err(shared::Error::internal),
        Err(err) if err.kind() != ErrorKind::NotFound => return Err(unreadable(err)),
        Err(_) => {}
    }
    // Written whole under another name, then linked into place: a runner starting at the same
    // moment reads the whole key or none, and the first link wins.
    let (key, text) = LocalKey::generate().map_err(shared::Error::internal)?;
    let draft = format!("{path}.{}", uuid::Uuid::new_v4().simple());
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&draft).map_err(unreadable)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(unreadable)?;
    let linked = std::fs::hard_link(&draft, path);
    std::fs::remove_file(&draft).map_err(unreadable)?;
    match linked {
        Ok(()) => {
            eprintln!("Made the key of stored secrets in {path}: keep it, as the secrets it sealed open with it only.");
            Ok(key)
        }
        Err(err) if err.kind() == ErrorKind::AlreadyExists => kept_key(path),
        Err(err) => Err(unreadable(err)),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn the_first_run_makes_a_key_only_its_owner_reads_and_later_runs_use_it() {
        let path = std::env::temp_dir().join(format!("webhooks-key-{}", uuid::Uuid::new_v4()));
        let path = path.to_str().expect("a UTF-8 path");
        let sealed = Sealer::new(kept_key(path).expect("made")).seal("s", "c").await.expect("sealed");
        let mode = std::fs::metadata(path).expect("the file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
        let again = Sealer::new(kept_key(path).expect("read"));
        assert_eq!(again.open(&sealed, "c").await.expect("opened with the kept key"), "s");
        std::fs::write(path, "not a key").expect("write");
        assert!(kept_key(path).is_err(), "a damaged file is an error, not a new key");
        std::fs::remove_file(path).expect("remove");
    }
}
