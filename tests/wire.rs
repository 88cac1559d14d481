//! The bench's view of the wire: the runner as a process, and proxies that count the AWS
//! requests passing through them by their `X-Amz-Target` header (`DynamoDB_20120810.PutItem`,
//! `AmazonSQS.SendMessageBatch`, ...), which both services' JSON protocols send.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub type Counts = Arc<Mutex<BTreeMap<String, usize>>>;

/// Forwards a loopback port to `target`, counting requests per operation.
pub async fn counting_proxy(target: String, counts: Counts) -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let (target, counts) = (target.clone(), counts.clone());
            tokio::spawn(async move {
                if let Ok(outbound) = TcpStream::connect(&target).await {
                    let _ = relay(inbound, outbound, counts).await;
                }
            });
        }
    });
    Ok(url)
}

async fn relay(inbound: TcpStream, outbound: TcpStream, counts: Counts) -> std::io::Result<()> {
    let (mut client_read, mut client_write) = inbound.into_split();
    let (mut server_read, mut server_write) = outbound.into_split();
    let upstream = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        // Keeps the tail of the last read, so a header split across reads is still seen.
        let mut carry = String::new();
        loop {
            let read = client_read.read(&mut buffer).await?;
            if read == 0 {
                return server_write.shutdown().await;
            }
            carry.push_str(&String::from_utf8_lossy(&buffer[..read]));
            count_targets(&mut carry, &counts);
            server_write.write_all(&buffer[..read]).await?;
        }
    };
    let downstream = tokio::io::copy(&mut server_read, &mut client_write);
    let (up, down) = tokio::join!(upstream, downstream);
    up.and(down.map(drop))
}

fn count_targets(carry: &mut String, counts: &Counts) {
    const HEADER: &str = "\r\nx-amz-target:";
    loop {
        let lower = carry.to_ascii_lowercase();
        let Some(start) = lower.find(HEADER) else { break };
        let Some(end) = carry[start + HEADER.len()..].find("\r\n") else { break };
        let operation = carry[start + HEADER.len()..start + HEADER.len() + end].trim().to_string();
        if let Ok(mut counts) = counts.lock() {
            *counts.entry(operation).or_default() += 1;
        }
        carry.replace_range(..start + HEADER.len() + end, "");
    }
    // Only a possible partial header needs keeping.
    if carry.len() > 256 {
        let keep = carry.len() - 256;
        let cut = (keep..carry.len()).find(|i| carry.is_char_boundary(*i)).unwrap_or(carry.len());
        carry.replace_range(..cut, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_targets_even_when_split_across_reads() {
        let counts = Counts::default();
        let mut carry = String::from(
            "POST / HTTP/1.1\r\nX-Amz-Target: AmazonSQS.SendMessageBatch\r\n\r\n{}POST / HTTP/1.1\r\nx-amz-tar",
        );
        count_targets(&mut carry, &counts);
        carry.push_str("get: DynamoDB_20120810.PutItem\r\n");
        count_targets(&mut carry, &counts);
        let counts = counts.lock().expect("lock");
        assert_eq!(counts.get("AmazonSQS.SendMessageBatch"), Some(&1));
        assert_eq!(counts.get("DynamoDB_20120810.PutItem"), Some(&1));
    }
}
