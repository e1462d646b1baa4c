//! A TCP proxy the test controls, between a process and its database:
//! [`Proxy::freeze`] stops forwarding bytes both ways while every socket
//! stays open (a half-open path: neither end sees an error, writes are held
//! as a partitioned network holds them, and new connections hang after
//! `accept`), [`Proxy::thaw`] lets the held bytes through, and
//! [`Proxy::cut`] closes every connection (the ends see a reset or EOF).
//! Plain threads, two per connection; dropping the proxy cuts everything.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    frozen: Mutex<bool>,
    thawed: Condvar,
    closed: AtomicBool,
    next_id: AtomicU64,
    /// Both sockets of every live connection (clones, for `cut`).
    conns: Mutex<HashMap<u64, (TcpStream, TcpStream)>>,
}

impl Shared {
    /// Blocks while the proxy is frozen.
    fn wait_thawed(&self) {
        let mut frozen = self.frozen.lock().unwrap_or_else(PoisonError::into_inner);
        while *frozen {
            frozen = self.thawed.wait(frozen).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn close(&self, id: u64) {
        let conn = self.conns.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        if let Some((a, b)) = conn {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            frozen: Mutex::new(false),
            thawed: Condvar::new(),
            closed: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            conns: Mutex::default(),
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.closed.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let s = s.clone();
                std::thread::spawn(move || connect(&s, client));
            }
        });
        Self { addr, shared, accept: Some(accept) }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops forwarding (connections stay open).
    pub fn freeze(&self) {
        *self.shared.frozen.lock().unwrap_or_else(PoisonError::into_inner) = true;
    }

    /// Forwards again, held bytes first.
    pub fn thaw(&self) {
        *self.shared.frozen.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.shared.thawed.notify_all();
    }

    /// Closes every connection open now; new ones are forwarded as before.
    pub fn cut(&self) {
        let ids: Vec<u64> =
            self.shared.conns.lock().unwrap_or_else(PoisonError::into_inner).keys().copied().collect();
        for id in ids {
            self.shared.close(id);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.thaw();
        self.cut();
        // Wake the accept loop so that it sees `closed`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// One client: connects upstream (once thawed) and pumps both ways.
fn connect(s: &Arc<Shared>, client: TcpStream) {
    s.wait_thawed();
    if s.closed.load(Ordering::SeqCst) {
        return;
    }
    let Ok(server) = TcpStream::connect_timeout(&s.upstream, Duration::from_secs(5)) else {
        // Upstream down: the client sees the connection close, as it would
        // see a refused connection without the proxy.
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let id = s.next_id.fetch_add(1, Ordering::SeqCst);
    let clones = (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone());
    let (Ok(c1), Ok(s1), Ok(c2), Ok(s2)) = clones else { return };
    s.conns.lock().unwrap_or_else(PoisonError::into_inner).insert(id, (c1, s1));
    let up = {
        let s = s.clone();
        std::thread::spawn(move || pump(&s, id, client, server))
    };
    pump(s, id, s2, c2);
    let _ = up.join();
}

/// Copies `from` to `to` until either end closes. While frozen, what was
/// read is held and nothing more is read (so the kernel buffers fill and the
/// sender blocks, as on a dead path), and a close is held too: the other
/// end learns of it only after the thaw, as a FIN retransmitted over a
/// healed path arrives.
fn pump(s: &Shared, id: u64, mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        s.wait_thawed();
        let read = from.read(&mut buf);
        s.wait_thawed();
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    s.close(id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An upstream that echoes every byte back; the receiver hears of each
    /// connection that ended.
    fn echo_server() -> (SocketAddr, std::sync::mpsc::Receiver<()>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut w = c.try_clone().expect("clone");
                    let mut r = c;
                    let _ = std::io::copy(&mut r, &mut w);
                    let _ = tx.send(());
                });
            }
        });
        (addr, rx)
    }

    fn client(p: &Proxy) -> TcpStream {
        let c = TcpStream::connect(p.addr()).expect("connect");
        c.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
        c
    }

    /// Reads what arrives within the read timeout (empty when nothing does;
    /// `None` when the connection was closed).
    fn read_some(c: &mut TcpStream) -> Option<Vec<u8>> {
        let mut buf = [0u8; 64];
        match c.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => Some(buf[..n].to_vec()),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                Some(Vec::new())
            }
            Err(_) => None,
        }
    }

    #[test]
    fn the_proxy_forwards_freezes_thaws_and_cuts() {
        let (upstream, ended) = echo_server();
        let p = Proxy::start(upstream);
        let mut a = client(&p);
        a.write_all(b"one").expect("write");
        assert_eq!(read_some(&mut a), Some(b"one".to_vec()));
        p.freeze();
        // Frozen: the write is accepted, nothing comes back, the socket stays open.
        a.write_all(b"two").expect("write while frozen");
        assert_eq!(read_some(&mut a), Some(Vec::new()));
        // A connection opened while frozen is accepted but silent too.
        let mut b = client(&p);
        b.write_all(b"new").expect("write");
        assert_eq!(read_some(&mut b), Some(Vec::new()));
        p.thaw();
        let t = Instant::now();
        assert_eq!(read_some(&mut a), Some(b"two".to_vec()), "held bytes arrive after thaw");
        assert_eq!(read_some(&mut b), Some(b"new".to_vec()));
        assert!(t.elapsed() < Duration::from_millis(300));
        p.cut();
        assert_eq!(read_some(&mut a), None, "cut closes the connection");
        assert_eq!(read_some(&mut b), None);
        for _ in 0..2 {
            ended.recv_timeout(Duration::from_secs(2)).expect("upstream sees the cut");
        }
        // New connections go through after a cut.
        let mut c = client(&p);
        c.write_all(b"three").expect("write");
        assert_eq!(read_some(&mut c), Some(b"three".to_vec()));
        // A client's close while frozen reaches upstream only after the thaw.
        p.freeze();
        drop(c);
        assert!(
            ended.recv_timeout(Duration::from_millis(300)).is_err(),
            "the close got through a frozen path"
        );
        p.thaw();
        ended.recv_timeout(Duration::from_secs(2)).expect("the close arrives after the thaw");
    }
}
