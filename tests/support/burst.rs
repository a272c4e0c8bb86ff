//! A launch-day burst: many sign-up confirmations at once while Cognito's attribute-update
//! quota throttles, then every user's first sign-in. Shared by tests/integration/concurrency.rs (100 users,
//! in make test) and bench/rust/burst.rs (1,000, in make bench).

use super::{ATTRIBUTE_UPDATE, ITEMS_PER_USER, LocalAws, PASSWORD, Pool, text};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const SIGN_IN_TRIES: usize = 5;

pub struct Burst {
    pub users: usize,
    pub concurrency: usize,
    /// AdminUpdateUserAttributes a second before the stand-in throttles, as Cognito's
    /// UserUpdate quota does (25 a second by default, per account).
    pub attribute_quota: u32,
}

pub struct BurstReport {
    pub confirm: Timings,
    pub sign_in: Timings,
    /// AdminUpdateUserAttributes requests the quota turned away.
    pub throttled: u64,
    /// How often the function logged each outcome for these users.
    pub outcomes: BTreeMap<String, usize>,
    /// Distinct organisations among the users' claims.
    pub organisations: usize,
    /// Users with more than one organisation, membership or claim.
    pub duplicates: usize,
    /// Users whose first token named no organisation, or another than their claim.
    pub without: usize,
    /// Sign-ins refused (no organisation could be established in time) and tried again.
    pub sign_ins_retried: usize,
}

/// What one user's step gave back: the organisation in their token, and how often they retried.
type Outcome = (Option<String>, usize);

pub struct Timings {
    pub samples: Vec<Duration>,
    pub elapsed: Duration,
}

impl Timings {
    pub fn per_second(&self) -> f64 {
        self.samples.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }
}

impl Burst {
    pub async fn run(&self, aws: Arc<LocalAws>, name: &str) -> BurstReport {
        let pool = Arc::new(aws.create_pool(name).await);
        let mut users = Vec::new();
        for n in 0..self.users {
            let email = format!("{name}-{n}@example.com");
            let sub = aws.sign_up(&pool, &email, &[]).await;
            users.push((email, sub));
        }
        aws.quota(ATTRIBUTE_UPDATE, &pool.id, self.attribute_quota);

        let confirm = self
            .each(&aws, &pool, &users, |aws, pool, email| async move {
                aws.confirm(&pool, &email).await;
                (None, 0)
            })
            .await;
        // A user refused a token tries again a moment later, as people do.
        let sign_in = self
            .each(&aws, &pool, &users, |aws, pool, email| async move {
                for retries in 0..SIGN_IN_TRIES {
                    if let Ok(claims) = aws.sign_in(&pool, &email, PASSWORD).await {
                        return (claims["custom:org"].as_str().map(str::to_owned), retries);
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                (None, SIGN_IN_TRIES)
            })
            .await;
        let throttled = aws.throttled()[ATTRIBUTE_UPDATE]["throttled"]
            .as_u64()
            .unwrap_or_default();
        aws.quota(ATTRIBUTE_UPDATE, &pool.id, 0);

        self.check(&aws, &users, confirm, sign_in, throttled).await
    }

    /// Runs `step` for every user, at most `concurrency` at once; returns the timings and
    /// what each step gave back, by email.
    async fn each<F, Fut>(
        &self,
        aws: &Arc<LocalAws>,
        pool: &Arc<Pool>,
        users: &[(String, String)],
        step: F,
    ) -> (Timings, HashMap<String, Outcome>)
    where
        F: Fn(Arc<LocalAws>, Arc<Pool>, String) -> Fut,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks = JoinSet::new();
        let started = Instant::now();
        for (email, _) in users {
            let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
            let work = step(Arc::clone(aws), Arc::clone(pool), email.clone());
            let email = email.clone();
            tasks.spawn(async move {
                let start = Instant::now();
                let result = work.await;
                drop(permit);
                (email, start.elapsed(), result)
            });
        }
        let mut samples = Vec::new();
        let mut results = HashMap::new();
        while let Some(done) = tasks.join_next().await {
            let (email, took, result) = done.expect("a burst task panicked");
            samples.push(took);
            results.insert(email, result);
        }
        let elapsed = started.elapsed();
        (Timings { samples, elapsed }, results)
    }

    async fn check(
        &self,
        aws: &LocalAws,
        users: &[(String, String)],
        (confirm, _): (Timings, HashMap<String, Outcome>),
        (sign_in, tokens): (Timings, HashMap<String, Outcome>),
        throttled: u64,
    ) -> BurstReport {
        let subs: HashSet<&str> = users.iter().map(|(_, sub)| sub.as_str()).collect();
        // One scan: every item that names one of these users, grouped by user.
        let mut by_user: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for item in aws.all_items().await {
            let owner = match text(&item, "kind") {
                "organisation" => text(&item, "createdBy"),
                _ => text(&item, "sub"),
            };
            if subs.contains(owner) {
                by_user.entry(owner.to_owned()).or_default().push((
                    text(&item, "kind").to_owned(),
                    text(&item, "orgId").to_owned(),
                ));
            }
        }
        let mut organisations = HashSet::new();
        let (mut duplicates, mut without, mut sign_ins_retried) = (0, 0, 0);
        for (email, sub) in users {
            let items = by_user.remove(sub).unwrap_or_default();
            let claim = items
                .iter()
                .find(|(kind, _)| kind == "claim")
                .map(|(_, org)| org);
            // The organisation, both sides of the owner's membership, the claim.
            if items.len() != ITEMS_PER_USER || items.iter().any(|(_, org)| Some(org) != claim) {
                duplicates += usize::from(items.len() > ITEMS_PER_USER);
            }
            let (token, retries) = tokens.get(email).cloned().unwrap_or_default();
            sign_ins_retried += retries;
            match (claim, token) {
                (Some(claim), Some(token)) if *claim == token && items.len() == ITEMS_PER_USER => {
                    organisations.insert(claim.clone());
                }
                _ => without += 1,
            }
        }
        let mut outcomes = BTreeMap::new();
        for line in aws.function_log() {
            if let Some(sub) = line["fields"]["sub"].as_str()
                && subs.contains(sub)
                && let Some(outcome) = line["fields"]["outcome"].as_str()
            {
                *outcomes.entry(outcome.to_owned()).or_default() += 1;
            }
        }
        BurstReport {
            confirm,
            sign_in,
            throttled,
            outcomes,
            organisations: organisations.len(),
            duplicates,
            without,
            sign_ins_retried,
        }
    }
}
