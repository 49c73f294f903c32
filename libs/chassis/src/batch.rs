//! Group commit: requests that arrive while a write is in progress are written together, in
//! one transaction with multi-row statements, each request still getting its own result.
//!
//! ```text
//! let writer = Batcher::spawn(64, move |items: Vec<NewRow>| { let db = db.clone(); async move {
//!     store_all(&db, &items).await          // one transaction for the whole batch
//! }});
//! let result = writer.call(row).await?;    // waits for the batch it joined
//! ```
//!
//! There is no timer: a lone request is written at once (a batch of one, no added latency);
//! under load, the requests that queued while the previous batch was being written form the
//! next one. One batch is in flight at a time per batcher, which is what a database with one
//! writer (SQLite) does anyway, and what turns N transactions, N commits and N statement
//! round trips per table into one on PostgreSQL too.
//!
//! A request whose caller went away meanwhile is still written (as if the caller's deadline
//! had passed just after the commit); its result is dropped.

use std::future::Future;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

/// The batcher's task ended (it panicked, or the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the {0} writer stopped")]
pub struct Stopped(pub &'static str);

struct Job<I, O> {
    item: I,
    reply: oneshot::Sender<O>,
}

/// Runs `run` over batches of at most `max` items, one batch at a time. Cheap to clone.
#[derive(Debug)]
pub struct Batcher<I, O> {
    name: &'static str,
    tx: mpsc::Sender<Job<I, O>>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            tx: self.tx.clone(),
        }
    }
}

impl<I, O> std::fmt::Debug for Job<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Spawns the task that runs `run` on each batch. `run` must return one output per item,
    /// in order (otherwise every caller of that batch gets [`Stopped`]).
    pub fn spawn<F, Fut>(name: &'static str, max: usize, mut run: F) -> Self
    where
        F: FnMut(Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<O>> + Send,
    {
        let max = max.max(1);
        // Room for many batches' worth of waiting requests; a full queue makes callers wait
        // (back-pressure), it loses nothing.
        let (tx, mut rx) = mpsc::channel::<Job<I, O>>(max * 64);
        tokio::spawn(async move {
            let mut jobs = Vec::with_capacity(max);
            while rx.recv_many(&mut jobs, max).await > 0 {
                let (items, replies): (Vec<I>, Vec<oneshot::Sender<O>>) =
                    jobs.drain(..).map(|j| (j.item, j.reply)).unzip();
                let outputs = run(items).await;
                if outputs.len() != replies.len() {
                    // A bug in `run`: which output is whose is unknown, so nobody gets one.
                    tracing::error!(
                        writer = name,
                        items = replies.len(),
                        outputs = outputs.len(),
                        "a batch returned the wrong number of results"
                    );
                    continue;
                }
                for (reply, out) in replies.into_iter().zip(outputs) {
                    // The caller may have gone (deadline, cancel): nothing to tell.
                    let _ = reply.send(out);
                }
            }
        });
        Self { name, tx }
    }

    /// Adds `item` to the next batch and waits for its output.
    pub async fn call(&self, item: I) -> Result<O, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { item, reply })
            .await
            .map_err(|_| Stopped(self.name))?;
        answer.await.map_err(|_| Stopped(self.name))
    }
}

/// Runs `write` over all of `items` at once (one transaction); if that fails, over each item
/// alone, so that one item's failure (say, a unique violation because a replica wrote the
/// same key first) fails only its own call. One result per item, in order.
pub async fn together_or_alone<I, T, E>(
    items: &[I],
    write: impl for<'a> Fn(&'a [I]) -> BoxFuture<'a, Result<Vec<T>, E>>,
) -> Vec<Result<T, E>> {
    match write(items).await {
        Ok(all) => all.into_iter().map(Ok).collect(),
        Err(e) if items.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match write(std::slice::from_ref(item)).await {
                    Ok(one) => out.extend(one.into_iter().map(Ok)),
                    Err(e) => out.push(Err(e)),
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn a_lone_request_is_a_batch_of_one_and_queued_ones_go_together() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let opened = gate.clone();
        let b = Batcher::spawn("test", 8, move |items: Vec<u32>| {
            seen.lock().expect("sizes").push(items.len());
            let gate = opened.clone();
            async move {
                // The first batch waits until the test lets it go: the rest queue meanwhile.
                if items == [0] {
                    let _ = gate.acquire().await.map(|p| p.forget());
                }
                items.into_iter().map(|i| i * 10).collect::<Vec<_>>()
            }
        });
        let first = tokio::spawn({
            let b = b.clone();
            async move { b.call(0).await }
        });
        while sizes.lock().expect("sizes").is_empty() {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = (1..=20)
            .map(|i| {
                let b = b.clone();
                tokio::spawn(async move { b.call(i).await })
            })
            .collect();
        // Let the 20 calls queue up behind the first batch.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1);
        assert_eq!(first.await.expect("join").expect("first"), 0);
        for (i, r) in rest.into_iter().enumerate() {
            let i = u32::try_from(i).expect("small") + 1;
            assert_eq!(r.await.expect("join").expect("output"), i * 10);
        }
        // A batch of one, then the 20 that waited in batches of at most 8.
        assert_eq!(*sizes.lock().expect("sizes"), vec![1, 8, 8, 4]);
    }

    #[tokio::test]
    async fn a_batch_with_a_missing_output_answers_nobody_and_the_writer_goes_on() {
        let b = Batcher::spawn("test", 4, |items: Vec<u32>| async move {
            items.into_iter().filter(|i| *i != 3).collect::<Vec<_>>()
        });
        assert_eq!(b.call(1).await.expect("one"), 1);
        assert!(b.call(3).await.is_err());
        assert_eq!(b.call(2).await.expect("two"), 2);
    }

    #[tokio::test]
    async fn when_a_batch_fails_each_item_is_tried_alone() {
        static TRIES: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
        // Fails whenever 13 is in it.
        fn write(items: &[u32]) -> BoxFuture<'_, Result<Vec<u32>, String>> {
            TRIES.lock().expect("tries").push(items.len());
            Box::pin(async move {
                if items.contains(&13) {
                    Err(format!("{items:?} failed"))
                } else {
                    Ok(items.iter().map(|i| i + 1).collect())
                }
            })
        }
        let tries = &TRIES;
        assert_eq!(
            together_or_alone(&[1, 13, 2], write).await,
            vec![Ok(2), Err("[13] failed".to_string()), Ok(3)]
        );
        assert_eq!(*tries.lock().expect("tries"), vec![3, 1, 1, 1]);
        tries.lock().expect("tries").clear();
        assert_eq!(together_or_alone(&[5, 6], write).await, vec![Ok(6), Ok(7)]);
        assert_eq!(*tries.lock().expect("tries"), vec![2]);
    }
}
