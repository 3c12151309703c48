//! TCP: [`TcpListener`] (with [`TcpListenerBuilder`]) and [`TcpStream`].

mod listener;
mod stream;

pub use listener::{Incoming, TcpListener, TcpListenerBuilder};
pub use stream::TcpStream;
