//! The serde helpers (feature `json`).
mod util;

use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

#[test]
fn json_round_trip() {
    fibra_runtime::run(|| {
        let mc = util::client();
        let k = util::key("json");
        let u = User {
            id: 7,
            name: "ada".into(),
        };
        mc.set_json(&k, &u, 60).unwrap();
        assert_eq!(mc.get_json::<User>(&k).unwrap(), Some(u));
        assert_eq!(
            mc.get(&k).unwrap().unwrap().value,
            br#"{"id":7,"name":"ada"}"#
        );
        assert_eq!(mc.get_json::<User>(util::key("missing")).unwrap(), None);
        mc.set(&k, b"not json", 0, 60).unwrap();
        let e = mc.get_json::<User>(&k).unwrap_err();
        assert!(!e.is_io() && !e.is_not_found(), "{e}");
    });
}
