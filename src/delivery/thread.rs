//! The delivery worker's own thread: one runtime thread for the mail lanes,
//! their SMTP connections, the marking and the claims.
//!
//! On the server's runtime, whose threads steal work from one another, each
//! answer from the SMTP server or the database woke a second thread to look
//! for work it rarely found: a tenth of the CPU time per mail went to those
//! switches (`benches/mail_fanout.sh`, SQLite, 100,000 subscribers, CPU per
//! mail 28 -> 25 µs). The HTTP server keeps a thread per core.

use std::future::Future;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A thread running a single-threaded runtime until this is dropped (or
/// `end`ed): then the tasks still on it are dropped with it.
pub struct DeliveryThread {
    runtime: tokio::runtime::Handle,
    end: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DeliveryThread {
    pub fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (end, ended) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("candor-delivery".into())
            .spawn(move || {
                // Dropped or told: either way, the runtime ends here.
                runtime.block_on(async {
                    let _ = ended.await;
                });
            })?;
        Ok(Self {
            runtime: handle,
            end: Some(end),
            thread: Some(thread),
        })
    }

    /// Runs `task` on this thread; it may be awaited from any runtime.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(task)
    }

    /// Ends the runtime (its tasks are dropped) and waits for the thread.
    pub async fn end(mut self) {
        self.stop();
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    fn stop(&mut self) {
        if let Some(end) = self.end.take() {
            let _ = end.send(());
        }
    }
}

impl Drop for DeliveryThread {
    fn drop(&mut self) {
        self.stop();
    }
}
