use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A master key that counts its calls and names each data key's wrapping key as it was when
/// the key was made: `rotate` stands for KMS's key being replaced by another.
#[derive(Clone, Default)]
struct Counting {
    inner: Arc<CountingInner>,
}

#[derive(Default)]
struct CountingInner {
    made: AtomicUsize,
    unwrapped: AtomicUsize,
    generation: AtomicUsize,
}

#[async_trait]
impl MasterKey for Counting {
    fn key_id(&self) -> String {
        format!("key-{}", self.inner.generation.load(Ordering::SeqCst))
    }

    async fn new_data_key(&self) -> Result<DataKey, SealError> {
        let n = self.inner.made.fetch_add(1, Ordering::SeqCst) as u8;
        let plaintext = vec![n; 32];
        let key_id = self.key_id();
        Ok(DataKey { wrapped: plaintext.iter().map(|b| b ^ 0x5a).collect(), plaintext, key_id })
    }

    async fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, SealError> {
        self.inner.unwrapped.fetch_add(1, Ordering::SeqCst);
        // Every generation's key stays usable for what it wrapped, as KMS keeps an old key.
        assert!(key_id.starts_with("key-"), "unwrapped with {key_id}");
        Ok(wrapped.iter().map(|b| b ^ 0x5a).collect())
    }
}

#[tokio::test]
async fn a_secret_opens_only_where_it_was_sealed_for() {
    let sealer = Sealer::with_new_local_key().expect("a sealer");
    let sealed = sealer.seal("whsec_abc", "WEBHOOK#1/secret").await.expect("sealed");
    assert!(!sealed.ciphertext.windows(9).any(|w| w == b"whsec_abc"), "the ciphertext holds the secret");
    assert!(sealed.key_id.starts_with("local:"), "{}", sealed.key_id);
    assert_eq!(sealer.open(&sealed, "WEBHOOK#1/secret").await.expect("opened"), "whsec_abc");
    let elsewhere = sealer.open(&sealed, "WEBHOOK#2/secret").await;
    assert!(matches!(elsewhere, Err(SealError::Invalid(_))), "{elsewhere:?}");
    let mut changed = sealed.clone();
    changed.ciphertext[0] ^= 1;
    assert!(matches!(sealer.open(&changed, "WEBHOOK#1/secret").await, Err(SealError::Invalid(_))));
}

#[tokio::test]
async fn the_same_secret_seals_differently_each_time() {
    let sealer = Sealer::with_new_local_key().expect("a sealer");
    let (a, b) = (sealer.seal("pw", "x").await.expect("a"), sealer.seal("pw", "x").await.expect("b"));
    assert_ne!(a.ciphertext, b.ciphertext);
    assert_eq!(a.data_key, b.data_key, "one data key a process");
}

#[tokio::test]
async fn a_process_calls_the_master_key_once_per_data_key() {
    let master = Counting::default();
    let writer = Sealer::new(master.clone());
    let mut sealed = Vec::new();
    for n in 0..50 {
        sealed.push(writer.seal(&format!("secret {n}"), "c").await.expect("sealed"));
    }
    assert_eq!(master.inner.made.load(Ordering::SeqCst), 1, "one data key for every seal");
    for s in &sealed {
        writer.open(s, "c").await.expect("opened");
    }
    assert_eq!(master.inner.unwrapped.load(Ordering::SeqCst), 0, "its own data key is known");
    let reader = Sealer::new(master.clone());
    for (n, s) in sealed.iter().enumerate() {
        assert_eq!(reader.open(s, "c").await.expect("opened"), format!("secret {n}"));
    }
    assert_eq!(master.inner.unwrapped.load(Ordering::SeqCst), 1, "another process unwraps it once");
}

#[tokio::test]
async fn secrets_sealed_under_a_replaced_master_key_still_open() {
    let master = Counting::default();
    let old = Sealer::new(master.clone()).seal("old secret", "c").await.expect("sealed");
    master.inner.generation.store(1, Ordering::SeqCst);
    let sealer = Sealer::new(master.clone());
    let new = sealer.seal("new secret", "c").await.expect("sealed");
    assert_eq!((old.key_id.as_str(), new.key_id.as_str()), ("key-0", "key-1"));
    assert_eq!(sealer.open(&old, "c").await.expect("opened"), "old secret");
}

#[tokio::test]
async fn another_local_key_cannot_open_a_secret() {
    let sealed = Sealer::with_new_local_key().expect("a sealer").seal("pw", "c").await.expect("sealed");
    let other = Sealer::with_new_local_key().expect("a sealer").open(&sealed, "c").await;
    let Err(SealError::Invalid(reason)) = other else { panic!("{other:?}") };
    assert!(reason.contains("local key"), "{reason}");
}

#[test]
fn a_local_key_is_32_bytes_of_base64() {
    let (_, text) = LocalKey::generate().expect("a key");
    assert!(LocalKey::from_base64(&text).is_ok());
    assert!(LocalKey::from_base64("c2hvcnQ=").is_err());
    assert!(LocalKey::from_base64("not base64!").is_err());
}
