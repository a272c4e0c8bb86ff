//! The job's own floor: the calls a sign-up and a token need, made with the same SDK and the
//! same SDK configuration as the function, and nothing else: no `lambda_runtime` (a blocking
//! Runtime API loop over one socket), no tracing, no metrics, no event checks.
//!
//! - `PostConfirmation_ConfirmSignUp`: one TransactWriteItems (organisation, both sides of the
//!   membership, claim), then AdminUpdateUserAttributes.
//! - `TokenGeneration_*`: one consistent Query of the user's partition (claim, memberships,
//!   active choice).

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sdk = runtime.block_on(provision_tenant::config::sdk_config());
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let table = std::env::var("TABLE_NAME")?;
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
    let socket = TcpStream::connect(&api)?;
    socket.set_nodelay(true)?;
    let mut stream = BufReader::new(socket);
    loop {
        let (request_id, event) = next(&mut stream, &api)?;
        let event: Value = serde_json::from_slice(&event)?;
        // An error is the invocation's, as Lambda's own runtimes report it; the loop goes on.
        match runtime.block_on(handle(&dynamodb, &cognito, &table, &event)) {
            Ok(()) => respond(
                &mut stream,
                &api,
                &request_id,
                "response",
                &serde_json::to_vec(&event)?,
            )?,
            Err(err) => {
                let error = serde_json::json!({"errorType": "BareError", "errorMessage": format!("{err:?}")});
                respond(
                    &mut stream,
                    &api,
                    &request_id,
                    "error",
                    &serde_json::to_vec(&error)?,
                )?
            }
        }
    }
}

async fn handle(
    dynamodb: &aws_sdk_dynamodb::Client,
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    table: &str,
    event: &Value,
) -> Result<(), Failure> {
    let text = |pointer: &str| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let sub = text("/request/userAttributes/sub");
    let s = |value: &str| AttributeValue::S(value.to_owned());
    let key =
        |pk: String, sk: &str| HashMap::from([("PK".to_owned(), s(&pk)), ("SK".to_owned(), s(sk))]);
    if text("/triggerSource").starts_with("TokenGeneration_") {
        dynamodb
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "PK")
            .expression_attribute_values(":pk", s(&format!("USER#{sub}")))
            .consistent_read(true)
            .send()
            .await?;
        return Ok(());
    }
    let org = uuid::Uuid::new_v4().to_string();
    let now = aws_sdk_dynamodb::primitives::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_sdk_dynamodb::primitives::DateTimeFormat::DateTime)?;
    let item = |pk: String, sk: &str, kind: &str, extra: &[(&str, &str)]| {
        let mut item = key(pk, sk);
        for (name, value) in [("kind", kind), ("orgId", &org), ("createdAt", &now)]
            .iter()
            .chain(extra)
        {
            item.insert((*name).to_owned(), s(value));
        }
        item
    };
    let put = |item, on_conflict| -> Result<TransactWriteItem, Failure> {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "PK")
            .set_return_values_on_condition_check_failure(on_conflict)
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    };
    dynamodb
        .transact_write_items()
        .transact_items(put(
            item(
                format!("ORG#{org}"),
                "ORG",
                "organisation",
                &[("createdBy", &sub)],
            ),
            None,
        )?)
        .transact_items(put(
            item(
                format!("ORG#{org}"),
                &format!("MEMBER#{sub}"),
                "membership",
                &[("sub", &sub), ("role", "owner")],
            ),
            None,
        )?)
        .transact_items(put(
            item(
                format!("USER#{sub}"),
                "ORG_CLAIM",
                "claim",
                &[("sub", &sub)],
            ),
            Some(ReturnValuesOnConditionCheckFailure::AllOld),
        )?)
        .transact_items(put(
            item(
                format!("USER#{sub}"),
                &format!("MEMBER_OF#{org}"),
                "member_of",
                &[("sub", &sub), ("role", "owner")],
            ),
            None,
        )?)
        .client_request_token(&org)
        .send()
        .await?;
    let attribute = aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
        .name("custom:org")
        .value(&org)
        .build()?;
    cognito
        .admin_update_user_attributes()
        .user_pool_id(text("/userPoolId"))
        .username(text("/userName"))
        .user_attributes(attribute)
        .send()
        .await?;
    Ok(())
}

fn next(stream: &mut BufReader<TcpStream>, api: &str) -> Result<(String, Vec<u8>), Failure> {
    let request =
        format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes())?;
    let (headers, body) = read_response(stream)?;
    let request_id = headers
        .get("lambda-runtime-aws-request-id")
        .cloned()
        .ok_or("no request id")?;
    Ok((request_id, body))
}

fn respond(
    stream: &mut BufReader<TcpStream>,
    api: &str,
    request_id: &str,
    kind: &str,
    body: &[u8],
) -> Result<(), Failure> {
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{request_id}/{kind} HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // One write: a second would wait for the delayed ACK of the first.
    stream
        .get_mut()
        .write_all(&[head.as_bytes(), body].concat())?;
    read_response(stream)?;
    Ok(())
}

fn read_response(
    stream: &mut BufReader<TcpStream>,
) -> Result<(HashMap<String, String>, Vec<u8>), Failure> {
    let mut headers = HashMap::new();
    let mut line = String::new();
    stream.read_line(&mut line)?; // the status line
    loop {
        line.clear();
        stream.read_line(&mut line)?;
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let length = headers.get("content-length").map_or(Ok(0), |n| n.parse())?;
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok((headers, body))
}
