//! `pg_enum!`: a Rust enum mapped to a PostgreSQL `CREATE TYPE ... AS ENUM`,
//! without a proc-macro crate in the build.

/// Declares a Rust enum whose variants map to the labels of a PostgreSQL
/// enum type, with [`ToSql`](crate::ToSql) and [`FromSql`](crate::FromSql)
/// implementations and a `label()` method.
///
/// PostgreSQL sends enum values in binary as their label's text, so the
/// impls accept the enum's own (non-builtin) type and the text types, and
/// refuse other builtin types before anything is sent. An unknown label
/// read from the server is a conversion error, not a panic.
///
/// ```
/// fibra_postgres::pg_enum! {
///     /// How a user feels (`CREATE TYPE mood AS ENUM ('happy', 'sad')`).
///     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
///     pub enum Mood {
///         Happy => "happy",
///         Sad => "sad",
///     }
/// }
/// assert_eq!(Mood::Sad.label(), "sad");
/// ```
#[macro_export]
macro_rules! pg_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $label:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The PostgreSQL label of this value.
            #[allow(dead_code)]
            $vis const fn label(&self) -> &'static str {
                match self {
                    $( $name::$variant => $label, )+
                }
            }
        }

        impl $crate::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &$crate::types::Type,
                out: &mut ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<$crate::types::IsNull, $crate::types::BoxError> {
                <str as $crate::types::ToSql>::to_sql(self.label(), ty, out)
            }
        }

        impl<'a> $crate::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &$crate::types::Type,
                raw: &'a [u8],
            ) -> ::std::result::Result<Self, $crate::types::BoxError> {
                let label = <&str as $crate::types::FromSql>::from_sql(ty, raw)?;
                match label {
                    $( $label => Ok($name::$variant), )+
                    other => Err(::std::format!(
                        "{:?} is not a label of the Rust enum {}",
                        other,
                        ::std::stringify!($name)
                    )
                    .into()),
                }
            }
        }
    };
}
