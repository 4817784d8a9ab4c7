//! A page of HelpCrunch chats or customers written as JSON field by field:
//! the bytes the derived `Serialize` of [`ChatList`] or [`CustomerList`]
//! gives, with its field names as literals.
//!
//! A chat page's answer is about 32 field names a chat (the chat's, its
//! customer's, its assignee's and its department's). Through `Serialize`
//! each name is a string of its own: a call into the serializer, a scan for
//! characters to escape, a reserve, quotes and a colon. On the benchmark's
//! chat page that was a tenth of the request's instructions, more than
//! writing the values (`docs/benchmarks.md`, "A chat page's names written
//! as literals"); on a customer page, about 23 names a customer, writing
//! the answer was a fifth. Here each name, with the punctuation around it, is one
//! copy of a constant; numbers are written by `itoa`, text that needs no
//! escape is copied between quotes, and everything else (escapes, custom
//! info's free-form values) goes through `serde_json`, as the derived
//! implementation does.
//!
//! The derived implementation stays the definition: the OpenAPI schema is
//! derived beside it, a single chat or customer is written by it, and the
//! tests below hold this writer to its bytes, row for row.

use std::collections::BTreeMap;

use serde_json::Value;

use super::wire::{
    AgentOutput, ChatCustomerOutput, ChatList, ChatOutput, CustomerList, CustomerOutput,
    DeviceOutput, LocationOutput, TagOutput, UnixSeconds,
};

/// About what one chat takes in a page's answer (600–700 bytes with its
/// customer, assignee and department, and no custom info), so a page's
/// buffer is sized once.
pub const CHAT_JSON_BYTES: usize = 768;

/// `list` as JSON: the bytes `serde_json::to_vec(list)` gives.
///
/// # Errors
/// When a chat's custom info cannot be written as JSON (never for a
/// `Value`; the error is the serializer's).
pub fn chat_list(list: &ChatList<'_>) -> Result<Vec<u8>, serde_json::Error> {
    let mut w = Writer(Vec::with_capacity(
        CHAT_JSON_BYTES.saturating_mul(list.data.len()) + 64,
    ));
    w.raw(b"{\"data\":[");
    for (i, chat) in list.data.iter().enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        w.chat(chat)?;
    }
    w.raw(b"],\"meta\":{\"total\":");
    w.uint(list.meta.total);
    w.raw(b"}}");
    Ok(w.0)
}

/// About what one customer takes in a page's answer without custom data
/// (400–600 bytes), so a page's buffer is sized once.
pub const CUSTOMER_JSON_BYTES: usize = 640;

/// `list` as JSON: the bytes `serde_json::to_vec(list)` gives.
///
/// # Errors
/// When a customer's custom data cannot be written as JSON (never for a
/// `Value`; the error is the serializer's).
pub fn customer_list(list: &CustomerList) -> Result<Vec<u8>, serde_json::Error> {
    let mut w = Writer(Vec::with_capacity(
        CUSTOMER_JSON_BYTES.saturating_mul(list.data.len()) + 64,
    ));
    w.raw(b"{\"data\":[");
    for (i, customer) in list.data.iter().enumerate() {
        if i > 0 {
            w.raw(b",");
        }
        w.customer_output(customer)?;
    }
    w.raw(b"],\"total\":");
    w.uint(list.total);
    w.raw(b"}");
    Ok(w.0)
}

/// Whether JSON needs an escape for any of `bytes`: a control character
/// (below 0x20), a quote or a backslash. Eight bytes at a time: a byte of
/// a word is below `n` where `(x - n·0x01…) & !x & 0x80…` has its top bit
/// (the bytes of UTF-8 sequences, 0x80 and up, never do), and equal to `c`
/// where `x ^ c·0x01…` is below 1.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x;
    let hits = |word: [u8; 8]| {
        let x = u64::from_le_bytes(word);
        (below(x, 0x20)
            | below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1))
            & TOPS
            != 0
    };
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        if <[u8; 8]>::try_from(word).map_or(true, hits) {
            return true;
        }
    }
    // The last few bytes, in a word filled out with a letter.
    let rest = words.remainder();
    let mut last = [b'a'; 8];
    last[..rest.len()].copy_from_slice(rest);
    hits(last)
}

/// The answer being written.
struct Writer(Vec<u8>);

impl Writer {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn int(&mut self, n: i64) {
        self.raw(itoa::Buffer::new().format(n).as_bytes());
    }

    fn uint(&mut self, n: u64) {
        self.raw(itoa::Buffer::new().format(n).as_bytes());
    }

    fn opt_int(&mut self, n: Option<i64>) {
        match n {
            Some(n) => self.int(n),
            None => self.raw(b"null"),
        }
    }

    /// A string as `serde_json` writes it: copied between quotes when
    /// nothing in it needs an escape (a control character, a quote or a
    /// backslash), else by `serde_json` itself.
    fn str(&mut self, s: &str) {
        if needs_escape(s.as_bytes()) {
            // Writing into a `Vec` cannot fail, and a `str` is always JSON.
            let _ = serde_json::to_writer(&mut self.0, s);
            return;
        }
        self.0.reserve(s.len() + 2);
        self.raw(b"\"");
        self.raw(s.as_bytes());
        self.raw(b"\"");
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.raw(b"null"),
        }
    }

    /// [`UnixSeconds`]: whole seconds, as a string.
    fn secs(&mut self, t: UnixSeconds) {
        self.raw(b"\"");
        self.int(t.0.as_unix_seconds());
        self.raw(b"\"");
    }

    fn opt_secs(&mut self, t: Option<UnixSeconds>) {
        match t {
            Some(t) => self.secs(t),
            None => self.raw(b"null"),
        }
    }

    fn agent(&mut self, a: &AgentOutput<'_>) {
        let AgentOutput {
            id,
            name,
            email,
            role,
        } = a;
        self.raw(b"{\"id\":");
        self.int(*id);
        self.raw(b",\"name\":");
        self.str(name);
        self.raw(b",\"email\":");
        self.str(email);
        self.raw(b",\"role\":");
        self.str(role);
        self.raw(b"}");
    }

    fn customer(&mut self, c: &ChatCustomerOutput<'_>) {
        let ChatCustomerOutput {
            id,
            name,
            email,
            user_id,
            phone,
            company,
        } = c;
        self.raw(b"{\"id\":");
        self.opt_int(*id);
        self.raw(b",\"name\":");
        self.opt_str(*name);
        self.raw(b",\"email\":");
        self.opt_str(*email);
        self.raw(b",\"userId\":");
        self.opt_str(*user_id);
        self.raw(b",\"phone\":");
        self.opt_str(*phone);
        self.raw(b",\"company\":");
        self.opt_str(*company);
        self.raw(b"}");
    }

    fn opt_string(&mut self, s: Option<&String>) {
        self.opt_str(s.map(String::as_str));
    }

    fn bool(&mut self, b: bool) {
        self.raw(if b { b"true" } else { b"false" });
    }

    fn tag(&mut self, t: &TagOutput) {
        let TagOutput { name, color } = t;
        self.raw(b"{\"name\":");
        self.str(name);
        self.raw(b",\"color\":");
        self.str(color);
        self.raw(b"}");
    }

    fn location(&mut self, l: &LocationOutput) {
        let LocationOutput {
            region_code,
            country_code,
            city,
        } = l;
        self.raw(b"{\"regionCode\":");
        self.opt_string(region_code.as_ref());
        self.raw(b",\"countryCode\":");
        self.opt_string(country_code.as_ref());
        self.raw(b",\"city\":");
        self.opt_string(city.as_ref());
        self.raw(b"}");
    }

    fn device(&mut self, d: &DeviceOutput) {
        let DeviceOutput {
            id,
            ip,
            timezone,
            user_agent,
            platform,
            os,
            browser,
            ip_address,
        } = d;
        self.raw(b"{\"id\":");
        self.int(*id);
        self.raw(b",\"ip\":");
        self.opt_string(ip.as_ref());
        self.raw(b",\"timezone\":");
        self.opt_string(timezone.as_ref());
        self.raw(b",\"userAgent\":");
        self.opt_string(user_agent.as_ref());
        self.raw(b",\"platform\":");
        self.opt_string(platform.as_ref());
        self.raw(b",\"os\":");
        self.opt_string(os.as_ref());
        self.raw(b",\"browser\":");
        self.opt_string(browser.as_ref());
        self.raw(b",\"ipAddress\":");
        self.opt_string(ip_address.as_ref());
        self.raw(b"}");
    }

    /// One customer, its members in the order `CustomerOutput` declares
    /// them (a member added there and not here fails the tests below).
    fn customer_output(&mut self, c: &CustomerOutput) -> Result<(), serde_json::Error> {
        let CustomerOutput {
            id,
            user_id,
            name,
            email,
            phone,
            company,
            first_seen,
            last_seen,
            unsubscribed,
            blocked,
            source,
            referer,
            last_page,
            locale,
            notes,
            tags,
            custom_data,
            location,
            device,
            created_from,
            integration_id,
            created_at,
            updated_at,
        } = c;
        self.raw(b"{\"id\":");
        self.int(*id);
        for (name, value) in [
            (&b",\"userId\":"[..], user_id),
            (b",\"name\":", name),
            (b",\"email\":", email),
            (b",\"phone\":", phone),
            (b",\"company\":", company),
            (b",\"firstSeen\":", first_seen),
            (b",\"lastSeen\":", last_seen),
        ] {
            self.raw(name);
            self.opt_string(value.as_ref());
        }
        self.raw(b",\"unsubscribed\":");
        self.bool(*unsubscribed);
        self.raw(b",\"blocked\":");
        self.bool(*blocked);
        for (name, value) in [
            (&b",\"source\":"[..], source),
            (b",\"referer\":", referer),
            (b",\"lastPage\":", last_page),
            (b",\"locale\":", locale),
            (b",\"notes\":", notes),
        ] {
            self.raw(name);
            self.opt_string(value.as_ref());
        }
        self.raw(b",\"tags\":[");
        for (i, t) in tags.iter().enumerate() {
            if i > 0 {
                self.raw(b",");
            }
            self.tag(t);
        }
        self.raw(b"],\"customData\":");
        self.custom_info(custom_data)?;
        self.raw(b",\"location\":");
        match location {
            Some(l) => self.location(l),
            None => self.raw(b"null"),
        }
        self.raw(b",\"device\":");
        match device {
            Some(d) => self.device(d),
            None => self.raw(b"null"),
        }
        self.raw(b",\"createdFrom\":");
        self.opt_string(created_from.as_ref());
        self.raw(b",\"integrationId\":");
        self.opt_string(integration_id.as_ref());
        self.raw(b",\"createdAt\":");
        self.str(created_at);
        self.raw(b",\"updatedAt\":");
        self.str(updated_at);
        self.raw(b"}");
        Ok(())
    }

    fn custom_info(&mut self, info: &BTreeMap<String, Value>) -> Result<(), serde_json::Error> {
        if info.is_empty() {
            self.raw(b"{}");
            return Ok(());
        }
        serde_json::to_writer(&mut self.0, info)
    }

    /// One chat, its members in the order `ChatOutput` declares them (a
    /// member added there and not here fails the tests below).
    fn chat(&mut self, c: &ChatOutput<'_>) -> Result<(), serde_json::Error> {
        let ChatOutput {
            id,
            closed_by,
            last_customer_message_at,
            status,
            closed_at,
            rating,
            created_at,
            last_message_at,
            created_with,
            snoozed_until,
            last_message_text,
            last_message_id,
            application_id,
            last_communicated_agent_id,
            agents,
            customer,
            assignee,
            department,
            custom_info,
        } = c;
        self.raw(b"{\"id\":");
        self.int(*id);
        self.raw(b",\"closedBy\":");
        self.opt_str(*closed_by);
        self.raw(b",\"lastCustomerMessageAt\":");
        self.opt_secs(*last_customer_message_at);
        self.raw(b",\"status\":");
        self.str(status);
        self.raw(b",\"closedAt\":");
        self.opt_secs(*closed_at);
        self.raw(b",\"rating\":");
        self.opt_str(*rating);
        self.raw(b",\"createdAt\":");
        self.secs(*created_at);
        self.raw(b",\"lastMessageAt\":");
        self.opt_secs(*last_message_at);
        self.raw(b",\"createdWith\":");
        self.opt_str(*created_with);
        self.raw(b",\"snoozedUntil\":");
        self.opt_secs(*snoozed_until);
        self.raw(b",\"lastMessageText\":");
        self.opt_str(*last_message_text);
        self.raw(b",\"lastMessageId\":");
        self.opt_int(*last_message_id);
        self.raw(b",\"applicationId\":");
        self.opt_int(*application_id);
        self.raw(b",\"lastCommunicatedAgentId\":");
        self.opt_int(*last_communicated_agent_id);
        self.raw(b",\"agents\":[");
        for (i, a) in agents.iter().enumerate() {
            if i > 0 {
                self.raw(b",");
            }
            self.agent(a);
        }
        self.raw(b"],\"customer\":");
        match customer {
            Some(x) => self.customer(x),
            None => self.raw(b"null"),
        }
        self.raw(b",\"assignee\":");
        match assignee {
            Some(a) => self.agent(a),
            None => self.raw(b"null"),
        }
        self.raw(b",\"department\":");
        match department {
            Some(d) => {
                self.raw(b"{\"id\":");
                self.int(d.id);
                self.raw(b",\"name\":");
                self.str(d.name);
                self.raw(b"}");
            }
            None => self.raw(b"null"),
        }
        self.raw(b",\"customInfo\":");
        self.custom_info(custom_info)?;
        self.raw(b"}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helpcrunch::wire::{DepartmentOutput, ListMeta};
    use serde_json::json;
    use switchboard_domain::Timestamp;

    /// Text a chat's strings take in the cases below: plain, empty, every
    /// character JSON must escape, and what it need not.
    const TEXTS: [&str; 8] = [
        "plain",
        "",
        "quote \" and backslash \\",
        "\u{0}\u{1}\n\r\t\u{1f}",
        "Zoë Ω 東京 🦀 \u{7f}",
        "\u{2028}\u{2029}</script>",
        "/slash",
        "a longer line of text than a SIMD lane, with an escape \" near its end",
    ];

    /// How many chats the cases make: every combination of the bits.
    const CASES: usize = 1 << 13;

    fn agent(n: usize) -> AgentOutput<'static> {
        AgentOutput {
            id: i64::try_from(n).unwrap_or(0) + 1,
            name: TEXTS[n % TEXTS.len()],
            email: TEXTS[(n + 1) % TEXTS.len()],
            role: TEXTS[(n + 2) % TEXTS.len()],
        }
    }

    fn secs(s: i64) -> UnixSeconds {
        UnixSeconds(Timestamp::from_millis(s))
    }

    /// Chat `n` of the cases: members present or absent by `n`'s bits 0 to
    /// 9, strings from [`TEXTS`], times at their edges.
    fn chat(n: usize, infos: &[BTreeMap<String, Value>]) -> ChatOutput<'_> {
        let bit = |b: usize| n & (1 << b) != 0;
        // Bits 10 to 12 choose the texts, apart from the bits above.
        let text = |k: usize| TEXTS[((n >> 10) + k) % TEXTS.len()];
        let times = [
            0,
            999,
            1_000,
            1_570_000_000_123,
            -1,
            -1_001,
            i64::MAX,
            i64::MIN,
        ];
        let time = |k: usize| secs(times[(n + k) % times.len()]);
        ChatOutput {
            id: [0, 1, -1, i64::MAX, i64::MIN, 52][n % 6],
            closed_by: bit(0).then_some(["agent", "customer"][n % 2]),
            last_customer_message_at: bit(1).then(|| time(1)),
            status: ["new", "opened", "pending", "closed"][n % 4],
            closed_at: bit(2).then(|| time(2)),
            rating: bit(3).then_some(["great", "average", "poor"][n % 3]),
            created_at: time(0),
            last_message_at: bit(4).then(|| time(3)),
            created_with: bit(5).then(|| text(1)),
            snoozed_until: bit(6).then(|| time(4)),
            last_message_text: bit(7).then(|| text(2)),
            last_message_id: bit(8).then_some(7),
            application_id: bit(9).then_some(-3),
            last_communicated_agent_id: bit(1).then_some(2),
            agents: (0..n % 3).map(|k| agent(n + k)).collect(),
            customer: bit(2).then(|| ChatCustomerOutput {
                id: bit(3).then_some(99),
                name: bit(4).then(|| text(3)),
                email: bit(5).then(|| text(4)),
                user_id: bit(6).then(|| text(5)),
                phone: bit(7).then(|| text(6)),
                company: bit(0).then(|| text(7)),
            }),
            assignee: bit(3).then(|| agent(n)),
            department: bit(5).then(|| DepartmentOutput {
                id: 4,
                name: text(6),
            }),
            custom_info: &infos[n % infos.len()],
        }
    }

    fn infos() -> Vec<BTreeMap<String, Value>> {
        let objects = [
            json!({}),
            json!({"plan": "pro"}),
            json!({"a \"quoted\" key": "\u{1}\n", "n": 1.5, "big": u64::MAX, "neg": i64::MIN,
                   "nested": {"list": [null, true, false, {}, [], -0.0, 1e21]}, "Zoë": "東京"}),
        ];
        objects
            .into_iter()
            .map(|o| match o {
                Value::Object(m) => m.into_iter().collect(),
                _ => BTreeMap::new(),
            })
            .collect()
    }

    /// Customer `n` of the cases, as [`chat`] makes chats: members present
    /// or absent by bits 0 to 9, texts chosen by bits 10 to 12.
    fn customer(n: usize, infos: &[BTreeMap<String, Value>]) -> CustomerOutput {
        let bit = |b: usize| n & (1 << b) != 0;
        let text = |k: usize| TEXTS[((n >> 10) + k) % TEXTS.len()].to_string();
        let opt = |b: usize, k: usize| bit(b).then(|| text(k));
        CustomerOutput {
            id: [0, 1, -1, i64::MAX, i64::MIN, 52][n % 6],
            user_id: opt(0, 0),
            name: opt(1, 1),
            email: opt(2, 2),
            phone: opt(3, 3),
            company: opt(4, 4),
            first_seen: opt(5, 5),
            last_seen: opt(6, 6),
            unsubscribed: bit(7),
            blocked: bit(8),
            source: opt(9, 7),
            referer: opt(0, 1),
            last_page: opt(1, 2),
            locale: opt(2, 3),
            notes: opt(3, 4),
            tags: (0..n % 3)
                .map(|k| TagOutput {
                    name: text(k),
                    color: text(k + 1),
                })
                .collect(),
            custom_data: infos[n % infos.len()].clone(),
            location: bit(4).then(|| LocationOutput {
                region_code: opt(5, 1),
                country_code: opt(6, 2),
                city: opt(7, 3),
            }),
            device: bit(8).then(|| DeviceOutput {
                id: i64::try_from(n).unwrap_or(0) - 4_000,
                ip: opt(9, 0),
                timezone: opt(0, 1),
                user_agent: opt(1, 2),
                platform: opt(2, 3),
                os: opt(3, 4),
                browser: opt(5, 5),
                ip_address: opt(6, 6),
            }),
            created_from: opt(7, 7),
            integration_id: opt(9, 0),
            created_at: text(1),
            updated_at: text(2),
        }
    }

    /// As for chats: pages of 1, 20 and 100 customers over every case,
    /// serde_json's bytes of the derived implementation.
    #[test]
    fn writes_the_derived_customer_serializations_bytes() {
        let infos = infos();
        let all: Vec<CustomerOutput> = (0..CASES).map(|n| customer(n, &infos)).collect();
        pages_match(
            &all,
            |data, total| CustomerList { data, total },
            customer_list,
        );
    }

    /// The customer cases reach every member both ways, and every string
    /// case lands in members at each depth.
    #[test]
    fn the_customer_cases_cover_every_member_both_ways() {
        let infos = infos();
        let written: Vec<Value> = (0..CASES)
            .map(|n| serde_json::to_value(customer(n, &infos)).expect("json"))
            .collect();
        let always = [
            "id",
            "unsubscribed",
            "blocked",
            "tags",
            "customData",
            "createdAt",
            "updatedAt",
        ];
        let paths = [
            "/name",
            "/notes",
            "/tags/1/color",
            "/location/city",
            "/device/os",
        ];
        cases_cover(&written, 23, &always, &paths);
        for key in ["unsubscribed", "blocked"] {
            assert!(written.iter().any(|c| c[key] == json!(true)), "{key}");
            assert!(written.iter().any(|c| c[key] == json!(false)), "{key}");
        }
    }

    /// The word-at-a-time check agrees with the byte-at-a-time one for
    /// every byte at every place of strings of 1 to 24 bytes, among
    /// bytes that need no escape (ASCII and UTF-8's high bytes).
    #[test]
    fn needs_escape_finds_every_byte_json_escapes() {
        let escapes = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        for len in 1..=24 {
            for at in 0..len {
                for fill in [
                    b'a', b' ', 0x7f, 0x80, 0xbf, 0xe6, 0xff, b'!', b'#', b'[', b']',
                ] {
                    for b in 0..=u8::MAX {
                        let mut bytes = vec![fill; len];
                        bytes[at] = b;
                        assert_eq!(
                            needs_escape(&bytes),
                            escapes(b) || escapes(fill),
                            "{bytes:?}"
                        );
                    }
                }
            }
        }
        assert!(!needs_escape(b""));
    }

    /// Pages of `all` (none, then pages of 1, 20 and 100 rows, totals
    /// at their edges), each made by `list` and written by `write`: the
    /// same bytes as serde_json's of the derived implementation.
    fn pages_match<T: Clone, L: serde::Serialize>(
        all: &[T],
        list: impl Fn(Vec<T>, u64) -> L,
        write: impl Fn(&L) -> Result<Vec<u8>, serde_json::Error>,
    ) {
        let pages = [1, 20, 100]
            .into_iter()
            .flat_map(|size| all.chunks(size))
            .enumerate()
            .map(|(i, rows)| (rows.to_vec(), [1, 10_000, u64::MAX][i % 3]));
        let mut rows = 0;
        for (data, total) in std::iter::once((Vec::new(), 0)).chain(pages) {
            rows += data.len();
            let page = list(data, total);
            let want = serde_json::to_vec(&page).expect("json");
            let got = write(&page).expect("written");
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
            );
        }
        assert_eq!(rows, 3 * all.len());
    }

    /// Whether the cases `written` (as serde_json writes them) reach what
    /// they are meant to: `members` members (counted on a row with none
    /// null), each but the `always` ones null in some rows and not in
    /// others, and every string case of [`TEXTS`] at each of `paths`.
    fn cases_cover(written: &[Value], members: usize, always: &[&str], paths: &[&str]) {
        let with_all = written
            .iter()
            .find(|c| {
                c.as_object()
                    .is_some_and(|o| o.values().all(|v| !v.is_null()))
            })
            .expect("a row with every member");
        let keys: Vec<String> = with_all
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(keys.len(), members, "{keys:?}");
        for key in keys.iter().filter(|k| !always.contains(&k.as_str())) {
            let nulls = written.iter().filter(|c| c[key].is_null()).count();
            assert!(nulls > 0 && nulls < written.len(), "{key}: {nulls} nulls");
        }
        for text in TEXTS {
            for at in paths {
                assert!(
                    written.iter().any(|c| c.pointer(at) == Some(&json!(text))),
                    "{at}: {text:?}"
                );
            }
        }
    }

    /// Page after page, chat for chat: serde_json's bytes of the derived
    /// implementation. Every member is present and absent in some chat,
    /// and every string case lands in every string member.
    #[test]
    fn writes_the_derived_serializations_bytes() {
        let infos = infos();
        let all: Vec<ChatOutput<'_>> = (0..CASES).map(|n| chat(n, &infos)).collect();
        pages_match(
            &all,
            |data, total| ChatList {
                data,
                meta: ListMeta { total },
            },
            chat_list,
        );
    }

    /// The cases reach what they are meant to: each optional member both
    /// ways, and every string case written with its escapes.
    #[test]
    fn the_cases_cover_every_member_both_ways() {
        let infos = infos();
        let written: Vec<Value> = (0..CASES)
            .map(|n| serde_json::to_value(chat(n, &infos)).expect("json"))
            .collect();
        let always = ["id", "status", "createdAt", "agents", "customInfo"];
        let paths = [
            "/lastMessageText",
            "/customer/phone",
            "/assignee/name",
            "/department/name",
        ];
        cases_cover(&written, 19, &always, &paths);
    }
}
