//! Transactions: commit, rollback, rollback on drop, nested savepoints,
//! isolation levels.

mod util;

use fibra_postgres::{Client, IsolationLevel};

fn count(c: &mut Client, t: &str) -> i64 {
    c.query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .unwrap()
        .get(0)
}

fn setup() -> (Client, String) {
    let mut c = util::connect();
    let t = util::table("tx");
    c.batch_execute(&format!("CREATE TABLE {t} (v int4)"))
        .unwrap();
    (c, t)
}

#[test]
fn commit_rollback_and_drop() {
    let (mut c, t) = setup();
    let ins = format!("INSERT INTO {t} VALUES ($1)");
    let mut tx = c.transaction().unwrap();
    tx.execute(ins.as_str(), &[&1i32]).unwrap();
    assert!(tx.is_in_transaction());
    tx.commit().unwrap();
    assert!(!c.is_in_transaction());

    let mut tx = c.transaction().unwrap();
    tx.execute(ins.as_str(), &[&2i32]).unwrap();
    tx.rollback().unwrap();

    {
        let mut tx = c.transaction().unwrap();
        tx.execute(ins.as_str(), &[&3i32]).unwrap();
        // dropped: rolled back
    }
    assert!(!c.is_in_transaction());
    assert_eq!(count(&mut c, &t), 1);

    // A failed statement aborts the transaction; drop still cleans up.
    {
        let mut tx = c.transaction().unwrap();
        tx.execute(ins.as_str(), &[&4i32]).unwrap();
        assert!(tx.batch_execute("SELECT 1/0").is_err());
        let e = tx.execute(ins.as_str(), &[&5i32]).unwrap_err();
        assert_eq!(
            e.code(),
            Some(fibra_postgres::sqlstate::IN_FAILED_SQL_TRANSACTION)
        );
    }
    assert_eq!(count(&mut c, &t), 1);
    c.batch_execute(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn nested_savepoints() {
    let (mut c, t) = setup();
    let ins = format!("INSERT INTO {t} VALUES ($1)");
    let mut tx = c.transaction().unwrap();
    tx.execute(ins.as_str(), &[&1i32]).unwrap();
    {
        let mut sp = tx.transaction().unwrap();
        sp.execute(ins.as_str(), &[&2i32]).unwrap();
        {
            let mut sp2 = sp.savepoint("inner one").unwrap();
            assert_eq!(sp2.savepoint_name(), Some("inner one"));
            sp2.execute(ins.as_str(), &[&3i32]).unwrap();
            // dropped: rolled back to "inner one"
        }
        {
            let mut sp3 = sp.transaction().unwrap();
            sp3.execute(ins.as_str(), &[&4i32]).unwrap();
            sp3.commit().unwrap();
        }
        sp.commit().unwrap();
    }
    {
        let mut sp = tx.transaction().unwrap();
        sp.execute(ins.as_str(), &[&5i32]).unwrap();
        sp.rollback().unwrap();
    }
    // An error inside a savepoint can be rolled back without losing the
    // outer transaction.
    {
        let mut sp = tx.transaction().unwrap();
        assert!(sp.batch_execute("SELECT 1/0").is_err());
    }
    // BEGIN inside a transaction is refused before it reaches the server.
    assert!(tx.build_transaction().start().is_err());
    tx.commit().unwrap();
    let vals: Vec<i32> = c
        .query(format!("SELECT v FROM {t} ORDER BY v").as_str(), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(vals, vec![1, 2, 4]);
    c.batch_execute(&format!("DROP TABLE {t}")).unwrap();
}

#[test]
fn isolation_levels_and_read_only() {
    let mut c = util::connect();
    for (level, name) in [
        (IsolationLevel::ReadCommitted, "read committed"),
        (IsolationLevel::RepeatableRead, "repeatable read"),
        (IsolationLevel::Serializable, "serializable"),
    ] {
        let mut tx = c
            .build_transaction()
            .isolation_level(level)
            .read_only(true)
            .start()
            .unwrap();
        let got: String = tx
            .query_one("SHOW transaction_isolation", &[])
            .unwrap()
            .get(0);
        assert_eq!(got, name);
        let ro: String = tx
            .query_one("SHOW transaction_read_only", &[])
            .unwrap()
            .get(0);
        assert_eq!(ro, "on");
        let e = tx
            .batch_execute("CREATE TEMP TABLE nope (x int)")
            .unwrap_err();
        assert_eq!(e.code(), Some("25006"));
        tx.rollback().unwrap();
    }
}
