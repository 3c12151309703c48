//! Startup: the startup message, authentication (cleartext, md5,
//! SCRAM-SHA-256 with or without channel binding) and the parameters and
//! key data the server sends before it is ready.

use crate::auth;
use crate::backend::log_notice;
use crate::client::Client;
use crate::config::{ChannelBinding, Config};
use crate::error::{DbError, Error, ErrorKind, Result};
use crate::proto::{self, Message};

impl Client {
    pub(crate) fn startup(&mut self, server_cert: Option<&[u8]>) -> Result<()> {
        let cfg = self.config.clone();
        let mut params: Vec<(&str, &str)> = vec![
            ("user", &cfg.user),
            ("database", cfg.get_dbname()),
            ("client_encoding", "UTF8"),
        ];
        if let Some(a) = &cfg.application_name {
            params.push(("application_name", a));
        }
        if let Some(o) = &cfg.options {
            params.push(("options", o));
        }
        proto::encode_startup(self.conn.write_buf(), &params);
        self.send()?;
        let mut scram: Option<auth::Scram> = None;
        loop {
            let (tag, body) = self.read_frame()?;
            let bound = scram.as_ref().is_some_and(auth::Scram::is_channel_bound);
            let msg = match proto::parse(tag, &self.conn.buffered()[body]) {
                Ok(m) => m,
                Err(e) => {
                    self.broken = true;
                    return Err(e.into());
                }
            };
            if cfg.channel_binding == ChannelBinding::Require
                && !bound
                && matches!(
                    msg,
                    Message::AuthenticationOk
                        | Message::AuthenticationCleartextPassword
                        | Message::AuthenticationMd5Password(_)
                )
            {
                return Err(Error::new(
                    ErrorKind::Auth,
                    "channel_binding=require, but the server did not authenticate with SCRAM-SHA-256-PLUS",
                ));
            }
            match msg {
                Message::AuthenticationOk => break,
                Message::AuthenticationCleartextPassword => {
                    let pw = password(&cfg)?;
                    proto::encode_password(self.conn.write_buf(), &pw);
                }
                Message::AuthenticationMd5Password(salt) => {
                    let pw = password(&cfg)?;
                    let hash = auth::md5_password(&cfg.user, &pw, salt);
                    proto::encode_password(self.conn.write_buf(), hash.as_bytes());
                }
                Message::AuthenticationSasl(list) => {
                    let plus = proto::sasl_mechanisms(list).any(|m| m == b"SCRAM-SHA-256-PLUS");
                    let plain = proto::sasl_mechanisms(list).any(|m| m == b"SCRAM-SHA-256");
                    let (mechanism, binding) = choose_scram(&cfg, server_cert, plus, plain)?;
                    let pw = password(&cfg)?;
                    let s = auth::Scram::with_random_nonce(&pw, binding)
                        .map_err(|e| Error::new(ErrorKind::Auth, e.0))?;
                    proto::encode_sasl_initial(self.conn.write_buf(), mechanism, &s.client_first());
                    scram = Some(s);
                }

                Message::AuthenticationSaslContinue(data) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| Error::protocol("SASL continue before SASL start"))?;
                    let fin = s.client_final(data).map_err(|e| {
                        Error::new(ErrorKind::Auth, "SCRAM exchange failed").with_source(e)
                    })?;
                    proto::encode_sasl_response(self.conn.write_buf(), &fin);
                }
                Message::AuthenticationSaslFinal(data) => {
                    let s = scram
                        .as_ref()
                        .ok_or_else(|| Error::protocol("SASL final before SASL start"))?;
                    s.verify(data).map_err(|e| {
                        Error::new(ErrorKind::Auth, "SCRAM exchange failed").with_source(e)
                    })?;
                    continue;
                }
                Message::AuthenticationOther(code) => {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!("unsupported authentication method (code {code})"),
                    ));
                }
                Message::ErrorResponse(f) => {
                    return Err(Error::db(Box::new(DbError::from_fields(&f))))
                }
                Message::NoticeResponse(f) => {
                    log_notice(&DbError::from_fields(&f));
                    continue;
                }
                Message::NegotiateProtocolVersion(_) => continue,
                other => {
                    self.broken = true;
                    return Err(Error::protocol(format!(
                        "unexpected message during authentication: {other:?}"
                    )));
                }
            }
            self.send()?;
        }
        // After AuthenticationOk: parameters, key data, ReadyForQuery.
        loop {
            let (tag, body) = self.read_frame()?;
            match proto::parse(tag, &self.conn.buffered()[body]) {
                Ok(Message::BackendKeyData {
                    process_id,
                    secret_key,
                }) => {
                    self.process_id = process_id;
                    self.secret_key = secret_key;
                }
                Ok(Message::ParameterStatus { name, value }) => {
                    self.params.insert(name.to_owned(), value.to_owned());
                }
                Ok(Message::NoticeResponse(f)) => log_notice(&DbError::from_fields(&f)),
                Ok(Message::ReadyForQuery(s)) => {
                    self.tx_status = s;
                    return Ok(());
                }
                Ok(Message::ErrorResponse(f)) => {
                    return Err(Error::db(Box::new(DbError::from_fields(&f))))
                }
                Ok(other) => {
                    return Err(self.fail(Error::protocol(format!(
                        "unexpected message during startup: {other:?}"
                    ))))
                }
                Err(e) => return Err(self.fail(e.into())),
            }
        }
    }
}

/// Picks the SASL mechanism: SCRAM-SHA-256-PLUS over TLS when the server
/// offers it (unless channel binding is disabled), else SCRAM-SHA-256.
fn choose_scram(
    cfg: &Config,
    server_cert: Option<&[u8]>,
    plus: bool,
    plain: bool,
) -> Result<(&'static str, auth::ChannelBinding)> {
    let want = cfg.channel_binding;
    match server_cert {
        Some(cert) if plus && want != ChannelBinding::Disable => Ok((
            "SCRAM-SHA-256-PLUS",
            auth::ChannelBinding::TlsServerEndPoint(auth::server_end_point_hash(cert)),
        )),
        _ if want == ChannelBinding::Require => Err(Error::new(
            ErrorKind::Auth,
            "channel_binding=require, but SCRAM-SHA-256-PLUS over TLS is not available",
        )),
        _ if !plain => Err(Error::new(
            ErrorKind::Auth,
            "the server offers no SASL mechanism this client supports",
        )),
        // On TLS without binding: tell the server we could have bound.
        Some(_) if want != ChannelBinding::Disable => {
            Ok(("SCRAM-SHA-256", auth::ChannelBinding::ClientOnly))
        }
        _ => Ok(("SCRAM-SHA-256", auth::ChannelBinding::None)),
    }
}

fn password(cfg: &Config) -> Result<Vec<u8>> {
    cfg.password.clone().ok_or_else(|| {
        Error::new(
            ErrorKind::Auth,
            "the server asked for a password but none was configured",
        )
    })
}
