//! Queries: parameters, row access, streaming, the statement cache, and
//! errors that leave the connection usable.

mod util;

use fibra_postgres::{sqlstate, ErrorKind};

#[test]
fn query_execute_and_access_by_name() {
    let mut c = util::connect();
    let t = util::table("q");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id int8 PRIMARY KEY, name text, score float8)"
    ))
    .unwrap();
    let ins = format!("INSERT INTO {t} VALUES ($1, $2, $3)");
    for i in 0..5i64 {
        let n = c
            .execute(ins.as_str(), &[&i, &format!("n{i}"), &(i as f64 / 2.0)])
            .unwrap();
        assert_eq!(n, 1);
    }
    let rows = c
        .query(
            format!("SELECT id, name, score FROM {t} WHERE id >= $1 ORDER BY id").as_str(),
            &[&2i64],
        )
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].get::<_, i64>("id"), 2);
    assert_eq!(rows[2].get::<_, &str>("name"), "n4");
    assert_eq!(rows[1].get::<_, f64>(2), 1.5);
    assert_eq!(rows[0].columns()[1].name(), "name");
    let updated = c
        .execute(
            format!("UPDATE {t} SET score = 0 WHERE id < $1").as_str(),
            &[&3i64],
        )
        .unwrap();
    assert_eq!(updated, 3);
    assert!(c
        .query_opt(
            format!("SELECT 1 FROM {t} WHERE id = $1").as_str(),
            &[&99i64]
        )
        .unwrap()
        .is_none());
    let e = c
        .query_one(format!("SELECT 1 FROM {t}").as_str(), &[])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RowCount);
    let e = c
        .query_one(format!("SELECT 1 FROM {t} WHERE false").as_str(), &[])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RowCount);
    c.batch_execute(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn server_error_fields_and_recovery() {
    let mut c = util::connect();
    let t = util::table("uniq");
    c.batch_execute(&format!(
        "CREATE TEMP TABLE {t} (id int4 CONSTRAINT {t}_pk PRIMARY KEY)"
    ))
    .unwrap();
    let ins = format!("INSERT INTO {t} VALUES ($1)");
    c.execute(ins.as_str(), &[&1i32]).unwrap();
    let e = c.execute(ins.as_str(), &[&1i32]).unwrap_err();
    assert_eq!(e.code(), Some(sqlstate::UNIQUE_VIOLATION));
    let db = e.db_error().unwrap();
    assert_eq!(db.constraint.as_deref(), Some(format!("{t}_pk").as_str()));
    assert!(db.detail.as_deref().unwrap().contains("already exists"));
    assert_eq!(db.severity, "ERROR");
    assert!(!e.is_closed());
    // The connection is still fine.
    assert_eq!(
        c.query_one("SELECT 1::int4", &[]).unwrap().get::<_, i32>(0),
        1
    );

    let e = c
        .query("SELECT * FROM no_such_table_here", &[])
        .unwrap_err();
    assert_eq!(e.code(), Some(sqlstate::UNDEFINED_TABLE));
    let e = c.batch_execute("SELEC 1").unwrap_err();
    assert_eq!(e.code(), Some(sqlstate::SYNTAX_ERROR));
    assert_eq!(e.db_error().unwrap().position, Some(1));
    // A runtime error while rows stream.
    let e = c
        .query("SELECT 1 / (3 - g)::int4 FROM generate_series(1, 5) g", &[])
        .unwrap_err();
    assert_eq!(e.code(), Some("22012"));
    c.ping().unwrap();
}

#[test]
fn wrong_parameters_fail_before_sending() {
    let mut c = util::connect();
    let e = c.query("SELECT $1::int4", &[&"text"]).unwrap_err();
    assert!(e.is_conversion(), "{e}");
    let e = c.query("SELECT $1::int4", &[&1i64]).unwrap_err();
    assert!(e.is_conversion(), "{e}");
    let e = c.query("SELECT $1::int4", &[]).unwrap_err();
    assert!(e.is_conversion(), "{e}");
    let e = c.query("SELECT $1::int4", &[&1i32, &2i32]).unwrap_err();
    assert!(e.is_conversion(), "{e}");
    assert_eq!(
        c.query_one("SELECT $1::int4", &[&5i32])
            .unwrap()
            .get::<_, i32>(0),
        5
    );
}

#[test]
fn streaming_large_results() {
    let mut c = util::connect();
    let mut it = c
        .query_iter(
            "SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g",
            &[],
        )
        .unwrap();
    let mut n = 0i64;
    let mut sum = 0i64;
    for row in it.by_ref() {
        let row = row.unwrap();
        sum += i64::from(row.get::<_, i32>(0));
        n += 1;
    }
    assert_eq!(it.rows_affected(), Some(200_000));
    drop(it);
    assert_eq!(n, 200_000);
    assert_eq!(sum, 200_000 * 200_001 / 2);
    // Dropping an iterator early leaves the connection usable.
    let mut it = c
        .query_iter("SELECT g FROM generate_series(1, 100000) g", &[])
        .unwrap();
    assert_eq!(it.next().unwrap().unwrap().get::<_, i32>(0), 1);
    drop(it);
    assert_eq!(
        c.query_one("SELECT 2::int4", &[]).unwrap().get::<_, i32>(0),
        2
    );
}

#[test]
fn statement_cache_and_prepared_statements() {
    let mut c = util::connect();
    c.clear_statement_cache();
    for i in 0..10i32 {
        c.query_one("SELECT $1::int4 + 1", &[&i]).unwrap();
    }
    assert_eq!(c.cached_statements(), 1);
    let prepared: i64 = c
        .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
        .unwrap()
        .get(0);
    assert_eq!(prepared, 2);

    let st = c.prepare("SELECT $1::text || $2::text").unwrap();
    assert_eq!(st.params().len(), 2);
    assert_eq!(st.columns().len(), 1);
    let s: String = c.query_one(&st, &[&"a", &"b"]).unwrap().get(0);
    assert_eq!(s, "ab");
    drop(st);
    // Dropped statements are closed with the next request.
    c.ping().unwrap();
    let prepared: i64 = c
        .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
        .unwrap()
        .get(0);
    assert_eq!(prepared, 2);

    // A capacity-0 cache uses the unnamed statement.
    let mut c = util::connect_with(&util::config("trust").statement_cache_capacity(0));
    for i in 0..3i32 {
        c.query_one("SELECT $1::int4", &[&i]).unwrap();
    }
    assert_eq!(c.cached_statements(), 0);
}

#[test]
fn batch_execute_and_empty_queries() {
    let mut c = util::connect();
    c.batch_execute("SET application_name = 'x'; SELECT 1; SELECT 2")
        .unwrap();
    c.batch_execute("").unwrap();
    assert_eq!(c.parameter("application_name"), Some("x"));
    assert_eq!(c.execute("", &[]).unwrap(), 0);
}

#[test]
fn many_coroutines_many_connections() {
    fibra_runtime::run(|| {
        let hs: Vec<_> = (0..16i32)
            .map(|i| {
                fibra_runtime::spawn(move || {
                    let mut c = util::connect();
                    let mut total = 0i64;
                    for j in 0..50i32 {
                        let v: i32 = c
                            .query_one("SELECT $1::int4 * $2::int4", &[&i, &j])
                            .unwrap()
                            .get(0);
                        total += i64::from(v);
                    }
                    total
                })
            })
            .collect();
        let sum: i64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, (0..16i64).sum::<i64>() * (0..50i64).sum::<i64>());
    });
}
