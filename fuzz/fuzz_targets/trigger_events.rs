//! Any bytes at all, as both triggers' event handling sees them (`make fuzz`): the contract
//! check never panics and its errors stay short, and a token's answer
//! differs from the event only in the organisation claim it adds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provision_tenant::event::{self, Trigger};
use provision_tenant::domain::OrgId;
use provision_tenant::triggers::pre_token;
use serde_json::Value;

const ORG: &str = "0b6f3a52-8c1d-4e2f-9a3b-4c5d6e7f8a9b";

fuzz_target!(|data: &[u8]| {
    let Ok(sent) = serde_json::from_slice::<Value>(data) else {
        return; // the Lambda runtime refuses what is not JSON before the handler runs
    };
    match event::parse(&sent, "custom:org") {
        Ok(Trigger::TokenGeneration(_)) => {
            let org = OrgId::parse(ORG).expect("a UUID");
            let answer = pre_token::with_org_claim(sent.clone(), "custom:org", org);
            let claim = answer.pointer("/response/claimsOverrideDetails/claimsToAddOrOverride/custom:org");
            assert_eq!(claim.and_then(Value::as_str), Some(ORG));
            let mut rest = answer.clone();
            rest["response"] = sent["response"].clone();
            assert_eq!(rest, sent, "only the response changes");
        }
        Ok(_) => {}
        // An error's text is built from static field names only (EventError holds no input),
        // so it cannot echo a value; here it must also stay short.
        Err(err) => assert!(err.to_string().len() < 120, "{err}"),
    }
});
