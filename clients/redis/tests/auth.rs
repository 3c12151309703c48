//! AUTH (password and ACL user), SELECT and CLIENT SETNAME.

mod util;

use fibra_redis::{cmd, Connection, ConnectionInfo, Protocol, ServerErrorKind};

#[test]
fn acl_user_on_the_shared_server() {
    fibra_runtime::run(|| {
        let mut admin = util::connect(Protocol::Resp3);
        let user = util::key("user").replace(':', "_");
        cmd("ACL")
            .arg(["SETUSER", &user, "on", ">s3cret pass", "~*", "+@all"])
            .execute(&mut admin)
            .unwrap();
        util::both(|p| {
            let url = format!(
                "redis://{user}:s3cret%20pass@{}/?protocol={}",
                util::addr(),
                if p == Protocol::Resp3 {
                    "resp3"
                } else {
                    "resp2"
                }
            );
            let mut c = Connection::connect(&url).unwrap();
            assert_eq!(c.protocol(), p);
            let who: String = cmd("ACL").arg("WHOAMI").query(&mut c).unwrap();
            assert_eq!(who, user);

            let bad = ConnectionInfo::from_url(&util::url())
                .unwrap()
                .with_protocol(p)
                .with_user(&user, "wrong");
            let e = Connection::connect_with(&bad).unwrap_err();
            assert_eq!(
                e.server_error().unwrap().kind(),
                ServerErrorKind::WrongPass,
                "{e}"
            );
        });
        // AUTH on an open connection.
        let mut c = util::connect(Protocol::Resp2);
        c.auth(Some(&user), "s3cret pass").unwrap();
        let who: String = cmd("ACL").arg("WHOAMI").query(&mut c).unwrap();
        assert_eq!(who, user);
        cmd("ACL")
            .arg("DELUSER")
            .arg(&user)
            .execute(&mut admin)
            .unwrap();
    });
}

#[test]
fn requirepass_server() {
    let server = util::Server::start(&["--requirepass", "hunter2"]);
    fibra_runtime::run(move || {
        util::both(|p| {
            let info = ConnectionInfo::new("127.0.0.1", server.port).with_protocol(p);
            // Without a password: NOAUTH on the first command.
            let mut c =
                Connection::connect_with(&info.clone().with_protocol(Protocol::Resp2)).unwrap();
            let e = c.ping().unwrap_err();
            assert_eq!(e.server_error().unwrap().kind(), ServerErrorKind::NoAuth);
            c.auth(None, "hunter2").unwrap();
            c.ping().unwrap();

            let url = format!("redis://:hunter2@127.0.0.1:{}/", server.port);
            let mut c =
                Connection::connect_with(&ConnectionInfo::from_url(&url).unwrap().with_protocol(p))
                    .unwrap();
            c.set("k", 1).unwrap();
            let e = Connection::connect_with(&info.with_password("nope")).unwrap_err();
            assert_eq!(e.server_error().unwrap().kind(), ServerErrorKind::WrongPass);
        });
    });
}

#[test]
fn select_and_client_name() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let info = util::info(p).with_db(3).with_client_name("fibra-test");
            let mut c = Connection::connect_with(&info).unwrap();
            let name: String = cmd("CLIENT").arg("GETNAME").query(&mut c).unwrap();
            assert_eq!(name, "fibra-test");
            let k = util::key("db");
            c.set(&k, "in-3").unwrap();
            let mut c0 = util::connect(p);
            assert_eq!(c0.get::<_, Option<String>>(&k).unwrap(), None);
            c0.select(3).unwrap();
            assert_eq!(c0.get::<_, String>(&k).unwrap(), "in-3");
            c0.set_client_name("renamed").unwrap();
            let name: String = cmd("CLIENT").arg("GETNAME").query(&mut c0).unwrap();
            assert_eq!(name, "renamed");
            c0.del(&k).unwrap();
            let url = format!("redis://{}/3?client_name=viaurl", util::addr());
            let mut c = Connection::connect(&url).unwrap();
            let name: String = cmd("CLIENT").arg("GETNAME").query(&mut c).unwrap();
            assert_eq!(name, "viaurl");
        });
    });
}
