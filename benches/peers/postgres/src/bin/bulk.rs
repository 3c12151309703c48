//! Bulk PostgreSQL workloads, for one client library at a time:
//!
//!     bulk <fibra|postgres> <copy|insert|stream> <rows>
//!
//! - `copy`: `COPY bench_bulk FROM STDIN` (text format) of `rows` rows
//!   written through the library's COPY writer;
//! - `insert`: the same rows as multi-row `INSERT ... VALUES` statements of
//!   [`BATCH`] rows each (3 parameters a row, bound in binary), prepared
//!   once, inside one transaction;
//! - `stream`: `SELECT id, name, v FROM bench_bulk` read row by row with the
//!   library's streaming iterator (nothing buffered beyond the socket),
//!   decoding every column. The table is filled by COPY first (not timed).
//!
//! Rows are `(id int8, name text, v float8)`: `(i, "name-<i>", i * 0.5)`.
//! The table is dropped and re-created (UNLOGGED, so that the WAL does not
//! dominate) before each timed run. Prints `BENCH <lib>-<workload> <rows/s>`.
//! Connects like the main benchmark, as $FIBRA_POSTGRES_TRUST_USER to
//! $FIBRA_POSTGRES_HOST:$FIBRA_POSTGRES_PORT/$FIBRA_POSTGRES_DATABASE.

use std::io::Write;
use std::time::Instant;

use postgres::fallible_iterator::FallibleIterator;

use fibra_bench_postgres_peers::url;

/// Rows per multi-row INSERT (3 parameters each; PostgreSQL allows 65,535).
const BATCH: usize = 500;

const CREATE: &str = "DROP TABLE IF EXISTS bench_bulk; \
    CREATE UNLOGGED TABLE bench_bulk (id int8 NOT NULL, name text NOT NULL, v float8 NOT NULL)";
const COPY: &str = "COPY bench_bulk (id, name, v) FROM STDIN";
const SELECT: &str = "SELECT id, name, v FROM bench_bulk";

/// The multi-row INSERT for `n` rows: `($1, $2, $3), ($4, $5, $6), ...`.
fn insert_sql(n: usize) -> String {
    let mut s = String::from("INSERT INTO bench_bulk (id, name, v) VALUES ");
    for r in 0..n {
        if r > 0 {
            s.push_str(", ");
        }
        let p = 3 * r;
        s.push_str(&format!("(${}, ${}, ${})", p + 1, p + 2, p + 3));
    }
    s
}

/// Writes rows `0..rows` in COPY text format to `w`, in 64 KiB pieces.
fn write_copy_rows(w: &mut impl Write, rows: u64) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(64 * 1024);
    for i in 0..rows {
        writeln!(line, "{i}\tname-{i}\t{}", i as f64 * 0.5)?;
        if line.len() >= 60 * 1024 {
            w.write_all(&line)?;
            line.clear();
        }
    }
    w.write_all(&line)
}

/// The values of one batch of rows starting at `first`.
fn batch_values(first: u64, n: usize) -> (Vec<i64>, Vec<String>, Vec<f64>) {
    let ids: Vec<i64> = (first..first + n as u64).map(|i| i as i64).collect();
    let names = ids.iter().map(|i| format!("name-{i}")).collect();
    let vs = ids.iter().map(|&i| i as f64 * 0.5).collect();
    (ids, names, vs)
}

/// Checks what a streamed row decoded to, so that no decoding is skipped.
fn check_row(id: i64, name: &str, v: f64, sum: &mut i64) {
    assert_eq!(v, id as f64 * 0.5, "row {id}");
    assert!(name.starts_with("name-"), "row {id}");
    *sum += id;
}

fn fibra(workload: &str, rows: u64) -> f64 {
    let workload = workload.to_owned();
    fibra_runtime::run(move || {
        let mut c = fibra_postgres::Client::connect(&url()).unwrap();
        c.batch_execute(CREATE).unwrap();
        let copy = |c: &mut fibra_postgres::Client| {
            let mut w = c.copy_in(COPY).unwrap();
            write_copy_rows(&mut w, rows).unwrap();
            assert_eq!(w.finish().unwrap(), rows);
        };
        match workload.as_str() {
            "copy" => {
                let t = Instant::now();
                copy(&mut c);
                t.elapsed().as_secs_f64()
            }
            "insert" => {
                let full = c.prepare(&insert_sql(BATCH)).unwrap();
                let t = Instant::now();
                let mut tx = c.transaction().unwrap();
                let mut done = 0u64;
                while done < rows {
                    let n = BATCH.min((rows - done) as usize);
                    let (ids, names, vs) = batch_values(done, n);
                    let mut params: Vec<&dyn fibra_postgres::types::ToSql> =
                        Vec::with_capacity(3 * n);
                    for r in 0..n {
                        params.push(&ids[r]);
                        params.push(&names[r]);
                        params.push(&vs[r]);
                    }
                    let affected = if n == BATCH {
                        tx.execute(&full, &params).unwrap()
                    } else {
                        tx.execute(insert_sql(n).as_str(), &params).unwrap()
                    };
                    assert_eq!(affected, n as u64);
                    done += n as u64;
                }
                tx.commit().unwrap();
                t.elapsed().as_secs_f64()
            }
            "stream" => {
                copy(&mut c);
                let t = Instant::now();
                let (mut n, mut sum) = (0u64, 0i64);
                for row in c.query_iter(SELECT, &[]).unwrap() {
                    let row = row.unwrap();
                    check_row(row.get(0), row.get(1), row.get(2), &mut sum);
                    n += 1;
                }
                assert_eq!(n, rows);
                assert_eq!(sum as u64, rows * (rows - 1) / 2);
                t.elapsed().as_secs_f64()
            }
            w => panic!("unknown workload {w}"),
        }
    })
}

fn sync(workload: &str, rows: u64) -> f64 {
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    c.batch_execute(CREATE).unwrap();
    let copy = |c: &mut postgres::Client| {
        let mut w = c.copy_in(COPY).unwrap();
        write_copy_rows(&mut w, rows).unwrap();
        assert_eq!(w.finish().unwrap(), rows);
    };
    match workload {
        "copy" => {
            let t = Instant::now();
            copy(&mut c);
            t.elapsed().as_secs_f64()
        }
        "insert" => {
            let full = c.prepare(&insert_sql(BATCH)).unwrap();
            let t = Instant::now();
            let mut tx = c.transaction().unwrap();
            let mut done = 0u64;
            while done < rows {
                let n = BATCH.min((rows - done) as usize);
                let (ids, names, vs) = batch_values(done, n);
                let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    Vec::with_capacity(3 * n);
                for r in 0..n {
                    params.push(&ids[r]);
                    params.push(&names[r]);
                    params.push(&vs[r]);
                }
                let affected = if n == BATCH {
                    tx.execute(&full, &params).unwrap()
                } else {
                    tx.execute(insert_sql(n).as_str(), &params).unwrap()
                };
                assert_eq!(affected, n as u64);
                done += n as u64;
            }
            tx.commit().unwrap();
            t.elapsed().as_secs_f64()
        }
        "stream" => {
            copy(&mut c);
            let t = Instant::now();
            let (mut n, mut sum) = (0u64, 0i64);
            let mut it = c.query_raw(SELECT, std::iter::empty::<i32>()).unwrap();
            while let Some(row) = it.next().unwrap() {
                check_row(row.get(0), row.get(1), row.get(2), &mut sum);
                n += 1;
            }
            assert_eq!(n, rows);
            assert_eq!(sum as u64, rows * (rows - 1) / 2);
            t.elapsed().as_secs_f64()
        }
        w => panic!("unknown workload {w}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!(
            "usage: {} <fibra|postgres> <copy|insert|stream> <rows>",
            args[0]
        );
        std::process::exit(2);
    }
    let (lib, workload) = (args[1].as_str(), args[2].as_str());
    let rows: u64 = args[3].parse().unwrap();
    let secs = match lib {
        "fibra" => fibra(workload, rows),
        "postgres" => sync(workload, rows),
        l => panic!("unknown library {l}"),
    };
    println!("BENCH {lib}-{workload} {:.0}", rows as f64 / secs);
}
