//! Turns the AWS requests counted in `make bench` section 3 into dollars per million
//! deliveries: list prices (us-east-1, on demand, arm64) and DynamoDB's item-size rules.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

/// Dollars per unit, as published on the AWS pricing pages (see docs/cost.md).
pub const DYNAMODB_WRITE_UNIT: f64 = 0.625e-6;
pub const DYNAMODB_READ_UNIT: f64 = 0.125e-6;
pub const SQS_REQUEST: f64 = 0.40e-6;
pub const HTTP_API_REQUEST: f64 = 1.00e-6;
pub const LAMBDA_REQUEST: f64 = 0.20e-6;
pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
pub const LAMBDA_MEMORY_GB: f64 = 128.0 / 1024.0;
/// How long one deliver invocation waits on its receivers: ten concurrent POSTs to receivers
/// answering in about this much. Loopback receivers answer in microseconds, so this is assumed.
pub const DELIVER_INVOCATION_SECONDS: f64 = 0.2;

/// The size DynamoDB bills an item at: attribute names plus values, with its documented
/// overheads (3 bytes per list or map, 1 per element, numbers at about 2 digits a byte).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    let number = |n: &String| n.chars().filter(char::is_ascii_digit).count().div_ceil(2) + 1;
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(number).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        _ => 1,
    }
}

/// The largest item of each kind in the table, by sort-key prefix (`WEBHOOK`, `DELIVERY`, `EVENT`).
pub fn largest_items(items: &[HashMap<String, AttributeValue>]) -> BTreeMap<String, usize> {
    let mut largest = BTreeMap::new();
    for item in items {
        let kind = match item.get("SK") {
            Some(AttributeValue::S(sk)) => sk.split('#').next().unwrap_or_default().to_string(),
            _ => continue,
        };
        let size = item_size(item);
        largest.entry(kind).and_modify(|s: &mut usize| *s = (*s).max(size)).or_insert(size);
    }
    largest
}

pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

pub fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        let item = HashMap::from([
            ("PK".to_string(), AttributeValue::S("OWNER#1".into())),
            ("version".to_string(), AttributeValue::N("12345".into())),
            ("tags".to_string(), AttributeValue::L(vec![AttributeValue::S("ab".into()), AttributeValue::Bool(true)])),
        ]);
        // 2+7, 7+(3+1), 4+(3 + 1+2 + 1+1)
        assert_eq!(item_size(&item), 9 + 11 + 12);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4097), 2.0);
    }
}
