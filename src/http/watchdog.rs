//! Closes connections that stall between requests: actix times only a connection's *first*
//! request head (`server.head_timeout_ms`) and lets an idle one go after its keep-alive, but a
//! later head that starts and never ends (one byte, then nothing) has no timer at all. Such a
//! connection would hold its place under the connection caps (`super::intake`) for good, and
//! enough of them lock everyone else out.
//!
//! Each connection gets a [`Watch`] (kept in its connection data by `Intake::on_connect`); the
//! `screen` middleware marks when a request starts and when its answer has been sent. Once a
//! second, every worker looks at its own connections: one with no request running that has
//! been quiet longer than the keep-alive plus the head timeout is shut down (both directions),
//! which ends actix's dispatcher for it. Everything runs on the worker's own thread: a watch
//! is dropped with its connection, in the same turn, so a live watch always names a live
//! socket; the socket's addresses are compared as well before it is shut down.

use std::{
    cell::{Cell, RefCell},
    net::SocketAddr,
    os::fd::{AsRawFd, BorrowedFd, RawFd},
    rc::{Rc, Weak},
    time::{Duration, Instant},
};

/// How often a worker looks at its connections.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One connection's state, as its requests come and go.
#[derive(Debug)]
pub struct Watch {
    fd: RawFd,
    peer: SocketAddr,
    local: SocketAddr,
    /// Requests of this connection whose answers are still being sent.
    running: Cell<usize>,
    /// Since when nothing has been running.
    quiet_since: Cell<Instant>,
}

/// Marks a request running on its connection until dropped (with the answer's body).
#[derive(Debug)]
pub struct Running(Rc<Watch>);

impl Drop for Running {
    fn drop(&mut self) {
        let running = self.0.running.get() - 1;
        self.0.running.set(running);
        if running == 0 {
            self.0.quiet_since.set(Instant::now());
        }
    }
}

impl Watch {
    pub fn running(self: &Rc<Self>) -> Running {
        self.running.set(self.running.get() + 1);
        Running(self.clone())
    }
}

thread_local! {
    /// This worker's connections, and whether its sweeper runs.
    static WATCHED: RefCell<Vec<Weak<Watch>>> = const { RefCell::new(Vec::new()) };
    static SWEEPING: Cell<bool> = const { Cell::new(false) };
}

/// Starts watching a new connection from `peer` (its address as the caller just read it, on
/// its worker's thread); `None` if its local address cannot be read (it is then not watched,
/// and actix's own timers still apply).
pub fn watch(
    stream: &actix_web::rt::net::TcpStream,
    peer: SocketAddr,
    quiet_for: Duration,
) -> Option<Rc<Watch>> {
    let watch = Rc::new(Watch {
        fd: stream.as_raw_fd(),
        peer,
        local: stream.local_addr().ok()?,
        running: Cell::new(0),
        quiet_since: Cell::new(Instant::now()),
    });
    WATCHED.with(|watched| watched.borrow_mut().push(Rc::downgrade(&watch)));
    if !SWEEPING.with(|sweeping| sweeping.replace(true)) {
        actix_web::rt::spawn(sweep_forever(quiet_for));
    }
    Some(watch)
}

async fn sweep_forever(quiet_for: Duration) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let stalled: Vec<Rc<Watch>> = WATCHED.with(|watched| {
            let mut watched = watched.borrow_mut();
            // Ended connections' watches are gone: forget them.
            watched.retain(|watch| watch.strong_count() > 0);
            watched
                .iter()
                .filter_map(Weak::upgrade)
                .filter(|watch| {
                    watch.running.get() == 0
                        && now.duration_since(watch.quiet_since.get()) > quiet_for
                })
                .collect()
        });
        for watch in stalled {
            shut_down(&watch);
        }
    }
}

/// Shuts the connection's socket down, so that actix's next read ends it.
fn shut_down(watch: &Watch) {
    // SAFETY: the watch lives exactly as long as its connection (it is dropped with the
    // connection's data, on this thread, in the same turn as the socket), and this runs on the
    // same thread, so the descriptor is still the connection's open socket; it is only borrowed.
    let fd = unsafe { BorrowedFd::borrow_raw(watch.fd) };
    let socket = socket2::SockRef::from(&fd);
    // And in case anything kept the watch alive longer: the same addresses, or hands off.
    let same = |found: std::io::Result<socket2::SockAddr>, expected: SocketAddr| {
        found.ok().and_then(|addr| addr.as_socket()) == Some(expected)
    };
    if same(socket.peer_addr(), watch.peer) && same(socket.local_addr(), watch.local) {
        log::debug!(
            "closing a connection from {} that stalled between requests",
            watch.peer
        );
        let _ = socket.shutdown(std::net::Shutdown::Both);
    }
}
