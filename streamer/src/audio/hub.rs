//! Audio fan-out: each packet is encoded once and shared by every viewer. Each viewer has a
//! small queue; when it is full the oldest packet goes, so a slow viewer hears a skip and
//! never makes the streamer's memory grow.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

/// Packets a viewer may have unsent: 400 ms of 10 ms packets.
pub const QUEUE_PACKETS: usize = 40;

struct Queue {
    packets: Mutex<VecDeque<Bytes>>,
    notify: Notify,
    capacity: usize,
}

/// One viewer's end: `next()` waits for the next audio message.
pub struct Subscription {
    queue: Arc<Queue>,
    hub: AudioHub,
}

impl Subscription {
    pub async fn next(&self) -> Bytes {
        loop {
            let notified = self.queue.notify.notified();
            if let Some(p) = self
                .queue
                .packets
                .lock()
                .ok()
                .and_then(|mut q| q.pop_front())
            {
                return p;
            }
            notified.await;
        }
    }

    /// Packets waiting (for tests and stats).
    pub fn queued(&self) -> usize {
        self.queue.packets.lock().map_or(0, |q| q.len())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut list) = self.hub.subscribers.lock() {
            list.retain(|q| !Arc::ptr_eq(q, &self.queue));
        }
    }
}

/// Where the capture thread publishes; cheap to clone.
#[derive(Clone, Default)]
pub struct AudioHub {
    subscribers: Arc<Mutex<Vec<Arc<Queue>>>>,
}

impl AudioHub {
    pub fn subscribe(&self) -> Subscription {
        self.subscribe_with(QUEUE_PACKETS)
    }

    pub fn subscribe_with(&self, capacity: usize) -> Subscription {
        let queue = Arc::new(Queue {
            packets: Mutex::new(VecDeque::with_capacity(capacity)),
            notify: Notify::new(),
            capacity: capacity.max(1),
        });
        if let Ok(mut list) = self.subscribers.lock() {
            list.push(queue.clone());
        }
        Subscription {
            queue,
            hub: self.clone(),
        }
    }

    /// Whether anyone listens (the capture thread skips encoding otherwise).
    pub fn has_subscribers(&self) -> bool {
        self.subscribers.lock().is_ok_and(|l| !l.is_empty())
    }

    pub fn publish(&self, msg: Bytes) {
        let Ok(list) = self.subscribers.lock() else {
            return;
        };
        for q in list.iter() {
            if let Ok(mut packets) = q.packets.lock() {
                if packets.len() >= q.capacity {
                    packets.pop_front();
                }
                packets.push_back(msg.clone());
            }
            q.notify.notify_one();
        }
    }
}
