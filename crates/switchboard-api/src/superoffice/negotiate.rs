//! `Accept` negotiation: JSON or XML, otherwise 406.

use crate::ApiError;

/// The representation a response is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json` (also `text/json`).
    Json,
    /// `application/xml` (also `text/xml`).
    Xml,
}

/// Chooses by the `Accept` header: the acceptable type with the highest
/// `q` (earliest on ties). No header, `*/*`, `application/*` and `text/*`
/// give JSON. Nothing acceptable is a 406.
pub fn choose(accept: Option<&str>) -> Result<Format, ApiError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Format::Json);
    };
    let mut best: Option<(f32, usize, Format)> = None;
    for (i, part) in accept.split(',').enumerate() {
        let mut params = part.split(';');
        let media = params
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let q = params
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        let format = match media.as_str() {
            // The seed lists the patch media types among the `Accept` values;
            // the answer is the entity, in JSON.
            "application/json"
            | "text/json"
            | "application/json-patch+json"
            | "application/merge-patch+json"
            | "*/*"
            | "application/*"
            | "text/*" => Format::Json,
            "application/xml" | "text/xml" => Format::Xml,
            _ => continue,
        };
        if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
            best = Some((q, i, format));
        }
    }
    best.map(|(_, _, f)| f).ok_or_else(|| {
        ApiError::NotAcceptable(
            "only application/json, text/json, application/json-patch+json, \
             application/merge-patch+json, application/xml and text/xml can be produced"
                .into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_table() {
        let cases = [
            (None, Some(Format::Json)),
            (Some("application/json"), Some(Format::Json)),
            (Some("text/json"), Some(Format::Json)),
            (Some("application/xml"), Some(Format::Xml)),
            (Some("text/xml"), Some(Format::Xml)),
            (Some("*/*"), Some(Format::Json)),
            (
                Some("application/xml;q=0.9, application/json;q=0.5"),
                Some(Format::Xml),
            ),
            (Some("application/json;q=0.1, text/xml"), Some(Format::Xml)),
            (Some("application/json-patch+json"), Some(Format::Json)),
            (Some("application/merge-patch+json"), Some(Format::Json)),
            (Some("text/html"), None),
            (Some("application/json;q=0"), None),
            (Some("image/png, text/html"), None),
        ];
        for (accept, want) in cases {
            assert_eq!(choose(accept).ok(), want, "{accept:?}");
        }
    }
}
