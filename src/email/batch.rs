//! Which messages are fetched together.
//!
//! One IMAP FETCH answer is held in memory whole (by the IMAP client while it
//! reads, then by us as we copy the bodies out: twice), so a batch is bounded
//! by the sum of the messages' `RFC822.SIZE`, not only by their number: 100
//! messages of 25 MB each were 5 GB against a 1 GiB pod. Messages the size
//! of the budget or larger are fetched one by one; a message above
//! `max_message_bytes` is not fetched at all (the poller quarantines it).

/// Split `uids` (ascending) into fetch groups whose sizes sum to at most
/// `budget` bytes, keeping the order. A message at or above the budget is a
/// group of its own. Messages without a size (expunged meanwhile) and
/// messages above `max_message` cost nothing: they are not fetched.
pub fn by_size(uids: &[u32], size_of: impl Fn(u32) -> Option<u64>, budget: u64, max_message: u64) -> Vec<Vec<u32>> {
    let budget = budget.max(1);
    let mut groups: Vec<Vec<u32>> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut sum = 0u64;
    for &uid in uids {
        let cost = match size_of(uid) {
            Some(s) if s <= max_message => s,
            _ => 0,
        };
        if cost > 0 && !current.is_empty() && sum.saturating_add(cost) > budget {
            groups.push(std::mem::take(&mut current));
            sum = 0;
        }
        current.push(uid);
        sum = sum.saturating_add(cost);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::by_size;

    #[test]
    fn groups_by_summed_size() {
        let sizes = [(1, 10), (2, 10), (3, 10), (4, 100), (5, 1), (6, 60), (7, 50), (8, 5000)];
        let size_of = |u: u32| sizes.iter().find(|(x, _)| *x == u).map(|(_, s)| *s);
        let uids: Vec<u32> = (1..=9).collect();
        // Budget 30: 1-3 together; 4 (over the budget) alone; 5 joins the next
        // group until 6+7 would exceed it; 8 is above the fetch limit (not
        // fetched, free) and 9 has no size (expunged): both ride along.
        assert_eq!(
            by_size(&uids, size_of, 30, 1000),
            vec![vec![1, 2, 3], vec![4], vec![5], vec![6], vec![7, 8, 9]]
        );
        // A large budget: everything in one group.
        assert_eq!(by_size(&uids, size_of, u64::MAX, u64::MAX).len(), 1);
        assert!(by_size(&[], size_of, 30, 1000).is_empty());
    }
}
