//! COPY FROM STDIN as Write, COPY TO STDOUT as Read.

mod util;

use std::io::{Read, Write};

#[test]
fn copy_in_and_out() {
    let mut c = util::connect();
    let t = util::table("copy");
    c.batch_execute(&format!("CREATE TABLE {t} (id int8, name text)"))
        .unwrap();
    let mut w = c
        .copy_in(&format!("COPY {t} (id, name) FROM STDIN"))
        .unwrap();
    for i in 0..100_000 {
        writeln!(w, "{i}\tname {i}").unwrap();
    }
    assert_eq!(w.finish().unwrap(), 100_000);
    let n: i64 = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 100_000);

    let mut r = c
        .copy_out(&format!("COPY (SELECT * FROM {t} ORDER BY id) TO STDOUT"))
        .unwrap();
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    assert_eq!(r.rows(), Some(100_000));
    drop(r);
    assert_eq!(out.lines().count(), 100_000);
    assert_eq!(out.lines().nth(7), Some("7\tname 7"));

    // Dropping a reader early leaves the connection usable.
    let mut r = c.copy_out(&format!("COPY {t} TO STDOUT")).unwrap();
    let mut buf = [0u8; 10];
    r.read_exact(&mut buf).unwrap();
    drop(r);
    c.ping().unwrap();
    c.batch_execute(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn copy_errors() {
    let mut c = util::connect();
    let t = util::table("copyerr");
    c.batch_execute(&format!("CREATE TABLE {t} (id int8)"))
        .unwrap();
    // Bad data: nothing is inserted, the error has the server's fields.
    let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).unwrap();
    w.write_all(b"1\nnot a number\n").unwrap();
    let e = w.finish().unwrap_err();
    assert_eq!(
        e.code(),
        Some(fibra_postgres::sqlstate::INVALID_TEXT_REPRESENTATION)
    );
    // An abandoned writer aborts the COPY.
    let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).unwrap();
    w.write_all(b"1\n2\n").unwrap();
    drop(w);
    let n: i64 = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let e = c.copy_in("COPY no_such_table FROM STDIN").unwrap_err();
    assert_eq!(e.code(), Some(fibra_postgres::sqlstate::UNDEFINED_TABLE));
    c.batch_execute(&format!("DROP TABLE {t}")).unwrap();
}
