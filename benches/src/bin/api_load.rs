//! Load generator for `bt serve`: N concurrent clients, each on its own
//! keep-alive HTTP/1.1 connection, for a bounded time, sending a mix of
//! status polls, result reads and bundle submissions with a think time
//! between requests. Prints requests/s, p50/p99 latency and errors per kind.
//!
//! `benches/api_load.sh` starts a server on 127.0.0.1 and runs this against it:
//! `api_load --addr 127.0.0.1:PORT --key KEY --bundle ID [--clients 1000]
//!  [--seconds 30] [--think-ms 100] [--mix 80,15,5]`

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// bt's binaries use mimalloc; so does the load generator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KINDS: [&str; 3] = ["status", "results", "submit"];

/// A small bundle (1h data, 16 variants) for the submissions.
const SPEC: &str = r#"{"name":"load","datasets":{"tickers":["BTCUSD","ETHUSD"],"timeframes":["1h"]},"strategy":{"kind":"sma_cross","fast":[5,10],"slow":[20,40]},"money":{"stop_loss":[0,0.02]},"costs":{"fee_bps":10}}"#;

#[derive(Debug, Clone)]
struct Opts {
    addr: SocketAddr,
    key: String,
    bundle: String,
    clients: usize,
    seconds: f64,
    think: Duration,
    mix: [u32; 3],
}

fn parse() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| -> Option<String> {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
    };
    let num = |name: &str, default: f64| -> Result<f64, String> {
        get(name).map_or(Ok(default), |v| v.parse().map_err(|_| format!("{name} {v}: not a number")))
    };
    let mix: Vec<u32> = get("--mix")
        .unwrap_or_else(|| "80,15,5".into())
        .split(',')
        .map(|x| x.parse().map_err(|_| format!("--mix {x}: not a whole number")))
        .collect::<Result<_, _>>()?;
    let [a, b, c] = mix[..] else { return Err("--mix STATUS,RESULTS,SUBMIT (three weights)".into()) };
    if a + b + c == 0 {
        return Err("--mix: the weights sum to 0".into());
    }
    Ok(Opts {
        addr: get("--addr")
            .ok_or("--addr HOST:PORT is required")?
            .parse()
            .map_err(|e| format!("--addr: {e}"))?,
        key: get("--key").ok_or("--key KEY is required")?,
        bundle: get("--bundle").ok_or("--bundle ID is required")?,
        clients: num("--clients", 1000.0)? as usize,
        seconds: num("--seconds", 30.0)?,
        think: Duration::from_secs_f64(num("--think-ms", 100.0)? / 1e3),
        mix: [a, b, c],
    })
}

/// One request on a keep-alive connection: the status code.
async fn request(conn: &mut TcpStream, buf: &mut Vec<u8>, req: &[u8]) -> std::io::Result<u16> {
    conn.write_all(req).await?;
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(std::io::Error::other)?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
        })
        .ok_or_else(|| std::io::Error::other("no content-length"))?;
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed mid-body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

#[derive(Debug, Default)]
struct Tally {
    micros: [Vec<u32>; 3],
    errors: [u64; 3],
}

async fn client(o: Opts, seed: u64, until: Instant) -> Tally {
    let mut t = Tally::default();
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let total: u32 = o.mix.iter().sum();
    let status_req = format!(
        "GET /v1/bundles/{} HTTP/1.1\r\nHost: bt\r\nAuthorization: Bearer {}\r\n\r\n",
        o.bundle, o.key
    );
    let results_req = format!(
        "GET /v1/bundles/{}/results?sort=sharpe&limit=20 HTTP/1.1\r\nHost: bt\r\nAuthorization: Bearer {}\r\n\r\n",
        o.bundle, o.key
    );
    let submit_req = format!(
        "POST /v1/bundles HTTP/1.1\r\nHost: bt\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{SPEC}",
        o.key,
        SPEC.len()
    );
    let reqs = [status_req.as_bytes(), results_req.as_bytes(), submit_req.as_bytes()];
    let expect = [200u16, 200, 202];
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut conn: Option<TcpStream> = None;
    // Spread the clients' first requests over one think time.
    tokio::time::sleep(o.think.mul_f64((seed % 1000) as f64 / 1000.0)).await;
    while Instant::now() < until {
        // xorshift64
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let r = (rng % u64::from(total)) as u32;
        let kind = if r < o.mix[0] {
            0
        } else if r < o.mix[0] + o.mix[1] {
            1
        } else {
            2
        };
        if conn.is_none() {
            match TcpStream::connect(o.addr).await {
                Ok(c) => {
                    let _ = c.set_nodelay(true);
                    conn = Some(c);
                }
                Err(_) => {
                    t.errors[kind] += 1;
                    tokio::time::sleep(o.think).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let started = Instant::now();
        match request(c, &mut buf, reqs[kind]).await {
            Ok(code) if code == expect[kind] => {
                t.micros[kind].push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            }
            Ok(_) => t.errors[kind] += 1,
            Err(_) => {
                t.errors[kind] += 1;
                conn = None;
            }
        }
        tokio::time::sleep(o.think).await;
    }
    t
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(o.seconds);
    let tallies: Vec<Tally> = rt.block_on(async {
        let tasks: Vec<_> =
            (0..o.clients).map(|i| tokio::spawn(client(o.clone(), i as u64 + 1, until))).collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.unwrap_or_default());
        }
        out
    });
    let secs = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} clients, {:.1} s, think {} ms, mix status/results/submit {:?}",
        o.clients,
        secs,
        o.think.as_millis(),
        o.mix
    )?;
    writeln!(
        out,
        "{:<8} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "kind", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors"
    )?;
    let (mut all_n, mut all_err) = (0usize, 0u64);
    for (k, name) in KINDS.iter().enumerate() {
        let mut v: Vec<u32> = tallies.iter().flat_map(|t| t.micros[k].iter().copied()).collect();
        v.sort_unstable();
        let errors: u64 = tallies.iter().map(|t| t.errors[k]).sum();
        all_n += v.len();
        all_err += errors;
        writeln!(
            out,
            "{name:<8} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {errors:>7}",
            v.len(),
            v.len() as f64 / secs,
            pct(&v, 0.5),
            pct(&v, 0.99),
            pct(&v, 1.0)
        )?;
    }
    writeln!(
        out,
        "{:<8} {all_n:>9} {:>10.0} {:>9} {:>9} {:>9} {all_err:>7}",
        "all",
        all_n as f64 / secs,
        "",
        "",
        ""
    )?;
    Ok(())
}
