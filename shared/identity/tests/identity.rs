//! Behaviour of the identity service. Every case runs twice, through the same public API: on the
//! embedded backends (SQLite table and sealed secrets file in a temporary directory) and on AWS in
//! moto (a table provisioned from the template and Secrets Manager under a unique prefix).
//!
//! Time is passed in as a fixed `NOW` (in the future, so every TTL-bound record the service writes
//! is alive against the adapters' real clock). The one case that needs a record to be expired uses
//! a time an hour before the real clock.

use std::collections::BTreeSet;
use std::sync::Arc;

use kushim_adapters::keys;
use kushim_adapters::secrets::{ExposeSecret, SecretString, Secrets};
use kushim_adapters::table::Table;
use kushim_api::{Principal, PrincipalKind};
use kushim_domain::{Grant, Permission, Role};
use kushim_identity::{Identity, IdentityConfig, IdentityError, Session, SignupInput, UserStatus};

/// The fixed "current time" of every case (2030-03-17), in epoch seconds.
const NOW: i64 = 1_900_000_000;
/// A password the policy accepts for every email used here.
const PASSWORD: &str = "correct horse battery staple";
/// Another acceptable password.
const OTHER_PASSWORD: &str = "purple monkey dishwasher 42";
const WRONG_PASSWORD: &str = "definitely not the password";

/// One backend pair and the service over it.
struct Env {
    identity: Identity,
    table: Arc<dyn Table>,
    secrets: Arc<dyn Secrets>,
    _dir: Option<tempfile::TempDir>,
}

impl Env {
    /// Another service instance over the same stores (own config, own key cache).
    fn service(&self, config: IdentityConfig) -> Identity {
        Identity::new(self.table.clone(), self.secrets.clone(), config)
    }
}

fn embedded_env() -> Env {
    use kushim_adapters::secrets::embedded::EmbeddedSecrets;
    use kushim_adapters::table::embedded::EmbeddedTable;

    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
    let secrets: Arc<dyn Secrets> = Arc::new(EmbeddedSecrets::open(&dir.path().join("secrets")).unwrap());
    let identity = Identity::new(table.clone(), secrets.clone(), IdentityConfig::default());
    Env { identity, table, secrets, _dir: Some(dir) }
}

async fn aws_env() -> Env {
    use kushim_adapters::aws::sdk::{dynamodb, secretsmanager};
    use kushim_adapters::secrets::secretsmanager::SecretsManagerSecrets;
    use kushim_adapters::table::dynamo::DynamoTable;

    let (sdk, provisioned) = kushim_testkit::fresh_stack().await;
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(dynamodb::Client::new(&sdk), provisioned.table_name));
    let prefix = format!("{}/", kushim_testkit::unique_prefix());
    let secrets: Arc<dyn Secrets> =
        Arc::new(SecretsManagerSecrets::new(secretsmanager::Client::new(&sdk), prefix).with_force_delete(true));
    let identity = Identity::new(table.clone(), secrets.clone(), IdentityConfig::default());
    Env { identity, table, secrets, _dir: None }
}

/// Runs each case against a fresh embedded environment and a fresh AWS (moto) environment.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let env = super::embedded_env();
                    super::$case(&env).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test]
                async fn $case() {
                    let env = super::aws_env().await;
                    super::$case(&env).await;
                }
            )*
        }
    };
}

/// Asserts that a result is an error matching the pattern (and guard), showing what it was otherwise.
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {
        match $result {
            Err($pattern) $(if $guard)? => {}
            other => panic!("expected Err({}), got {other:?}", stringify!($pattern $(if $guard)?)),
        }
    };
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_owned())
}

fn signup_input(tenant: &str, email: &str, password: &str) -> SignupInput {
    SignupInput { tenant_name: tenant.into(), email: email.into(), name: "Someone".into(), password: secret(password) }
}

async fn signup(env: &Env, tenant: &str, email: &str) -> Session {
    env.identity
        .signup(signup_input(tenant, email, PASSWORD), NOW)
        .await
        .unwrap_or_else(|e| panic!("signup {email}: {e}"))
}

async fn authenticate(env: &Env, bearer: &str, now: i64) -> Principal {
    env.identity.authenticate(bearer, now).await.unwrap_or_else(|e| panic!("authenticate: {e}"))
}

/// Invites `email` to `role` as `actor` and accepts with [`PASSWORD`]; returns the new session.
async fn invite_and_accept(env: &Env, actor: &Principal, email: &str, role: Role) -> Session {
    let (_, token) =
        env.identity.invite(actor, email, role, NOW).await.unwrap_or_else(|e| panic!("invite {email}: {e}"));
    env.identity
        .accept_invitation(&token, "Invitee", &secret(PASSWORD), NOW)
        .await
        .unwrap_or_else(|e| panic!("accept invitation of {email}: {e}"))
}

/// The token with the character at `index` replaced by a different base64url character.
fn with_char_changed(token: &str, index: usize) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    assert_ne!(chars[index], '.', "the index must be inside a segment");
    chars[index] = if chars[index] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

// ---- 1. Sign-up ----

async fn given_a_new_organisation_when_signing_up_then_its_owner_is_signed_in_and_the_email_is_taken(env: &Env) {
    let session = env.identity.signup(signup_input("Acme", "  Ada@Example.COM ", PASSWORD), NOW).await.unwrap();
    assert_eq!(session.user.email, "ada@example.com", "the email is stored normalised");
    assert_eq!(session.user.role, Role::Owner);
    assert_eq!(session.token_type, "Bearer");
    assert!(session.expires_in > 0 && session.expires_in <= 900, "{}", session.expires_in);
    assert!(session.refresh_token.expose_secret().starts_with("kur_"));

    let principal = authenticate(env, &session.access_token, NOW).await;
    assert_eq!(principal.tenant_id, session.tenant_id);
    assert_eq!(principal.id, session.user.id);
    assert_eq!(principal.kind, PrincipalKind::User);
    assert_eq!(principal.grant, Grant { role: Role::Owner, scopes: None });

    let tenant = env.identity.tenant(&session.tenant_id).await.unwrap();
    assert_eq!(tenant.name, "Acme");
    assert_eq!(tenant.owners, 1);
    let user = env.identity.user(&session.tenant_id, &session.user.id).await.unwrap();
    assert_eq!((user.role, user.status), (Role::Owner, UserStatus::Active));

    // The same address in any case and with surrounding blanks is taken.
    let again = env.identity.signup(signup_input("Acme Two", " ADA@example.com\t", OTHER_PASSWORD), NOW).await;
    assert_err!(again, IdentityError::Conflict(_));

    // Weak passwords: too short, a repeated character, containing the email's name part.
    for weak in ["short pw", "aaaaaaaaaaaaaaaa", "grace-hopper-rules"] {
        let result = env.identity.signup(signup_input("Acme Three", "grace@example.com", weak), NOW).await;
        assert_err!(result, IdentityError::Invalid(_));
    }
    for bad in ["not-an-email", "grace@localhost", "gr ace@example.com", ""] {
        let result = env.identity.signup(signup_input("Acme Four", bad, PASSWORD), NOW).await;
        assert_err!(result, IdentityError::Invalid(_));
    }
    // A blank organisation name is refused too.
    assert_err!(
        env.identity.signup(signup_input("  ", "grace@example.com", PASSWORD), NOW).await,
        IdentityError::Invalid(_)
    );
}

// ---- 2. Login and lockout ----

async fn given_an_account_when_logging_in_then_failures_are_uniform_and_five_in_a_row_lock_it(env: &Env) {
    let owner = signup(env, "Acme", "ada@example.com").await;
    let source = Some("198.51.100.7");

    // Wrong password and unknown account look the same.
    assert_err!(
        env.identity.login("ada@example.com", &secret(WRONG_PASSWORD), source, NOW).await,
        IdentityError::InvalidCredentials
    );
    assert_err!(
        env.identity.login("nobody@example.com", &secret(PASSWORD), source, NOW).await,
        IdentityError::InvalidCredentials
    );
    for _ in 0..3 {
        assert_err!(
            env.identity.login("ada@example.com", &secret(WRONG_PASSWORD), source, NOW).await,
            IdentityError::InvalidCredentials
        );
    }

    // Four failures so far; the right password (any case) still works and clears the counter.
    let session = env.identity.login(" ADA@Example.com", &secret(PASSWORD), source, NOW).await.unwrap();
    assert_eq!(session.user.id, owner.user.id);
    assert_eq!(session.tenant_id, owner.tenant_id);
    let principal = authenticate(env, &session.access_token, NOW).await;
    assert_eq!(principal.id, owner.user.id);

    // Had the counter survived, the first of these would lock and the next answer Locked.
    for attempt in 1..=5 {
        let result = env.identity.login("ada@example.com", &secret(WRONG_PASSWORD), source, NOW).await;
        assert!(matches!(result, Err(IdentityError::InvalidCredentials)), "failure {attempt}: {result:?}");
    }
    // The sixth attempt is refused even with the right password, before any check.
    match env.identity.login("ada@example.com", &secret(PASSWORD), source, NOW).await {
        Err(IdentityError::Locked(secs)) => assert!((1..=30).contains(&secs), "locked for {secs}s"),
        other => panic!("expected Locked, got {other:?}"),
    }
    // A second later it is still locked, for one second less.
    let later = NOW + 1;
    match env.identity.login("ada@example.com", &secret(PASSWORD), None, later).await {
        Err(IdentityError::Locked(secs)) => assert!((1..=29).contains(&secs), "locked for {secs}s"),
        other => panic!("expected Locked one second later, got {other:?}"),
    }
}

// ---- 3. Refresh rotation and reuse detection ----

async fn given_a_refresh_token_when_it_is_reused_after_rotation_then_its_whole_family_is_revoked(env: &Env) {
    let first = signup(env, "Acme", "ada@example.com").await;
    // A second, independent session of the same user.
    let other = env.identity.login("ada@example.com", &secret(PASSWORD), None, NOW).await.unwrap();

    let rotated = env.identity.refresh(&first.refresh_token, NOW + 10).await.unwrap();
    assert_ne!(rotated.refresh_token.expose_secret(), first.refresh_token.expose_secret());
    assert_ne!(rotated.access_token, first.access_token);
    assert_eq!(rotated.user.id, first.user.id);
    let principal = authenticate(env, &rotated.access_token, NOW + 10).await;
    assert_eq!((principal.id.as_str(), principal.grant.role), (first.user.id.as_str(), Role::Owner));

    // The spent token is refused, and presenting it revoked the family: the rotated one dies too.
    assert_err!(env.identity.refresh(&first.refresh_token, NOW + 20).await, IdentityError::Unauthenticated);
    assert_err!(env.identity.refresh(&rotated.refresh_token, NOW + 30).await, IdentityError::Unauthenticated);

    // The other session is a different family and keeps working.
    let other_rotated = env.identity.refresh(&other.refresh_token, NOW + 40).await.unwrap();
    assert_eq!(other_rotated.user.id, first.user.id);

    // Garbage is refused.
    for bad in ["", "kur_", "kur_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not a token"] {
        assert_err!(env.identity.refresh(&secret(bad), NOW + 40).await, IdentityError::Unauthenticated);
    }
    // An access token is not a refresh token.
    assert_err!(env.identity.refresh(&secret(&first.access_token), NOW + 40).await, IdentityError::Unauthenticated);
}

// ---- 4. Logout ----

async fn given_two_sessions_when_logging_out_then_only_that_session_ends_and_logout_all_ends_everything(env: &Env) {
    let a = signup(env, "Acme", "ada@example.com").await;
    let b = env.identity.login("ada@example.com", &secret(PASSWORD), None, NOW).await.unwrap();
    let principal = authenticate(env, &a.access_token, NOW).await;

    env.identity.logout(&principal, &a.refresh_token).await.unwrap();
    assert_err!(env.identity.refresh(&a.refresh_token, NOW + 10).await, IdentityError::Unauthenticated);
    // The other session's refresh token and access token are untouched.
    let b2 = env.identity.refresh(&b.refresh_token, NOW + 10).await.unwrap();
    authenticate(env, &b.access_token, NOW + 10).await;
    authenticate(env, &b2.access_token, NOW + 10).await;

    env.identity.logout_all(&principal, NOW + 20).await.unwrap();
    for token in [&a.access_token, &b.access_token, &b2.access_token] {
        assert_err!(env.identity.authenticate(token, NOW + 20).await, IdentityError::Unauthenticated);
    }
    assert_err!(env.identity.refresh(&b2.refresh_token, NOW + 20).await, IdentityError::Unauthenticated);

    // Signing in again afterwards works.
    let fresh = env.identity.login("ada@example.com", &secret(PASSWORD), None, NOW + 21).await.unwrap();
    assert_eq!(authenticate(env, &fresh.access_token, NOW + 21).await.id, a.user.id);
    env.identity.refresh(&fresh.refresh_token, NOW + 22).await.unwrap();
}

// ---- 5. Invitations ----

async fn given_an_invitation_when_it_is_accepted_then_the_invitee_joins_once_and_role_rules_hold(env: &Env) {
    let owner_session = signup(env, "Acme", "ada@example.com").await;
    let owner = authenticate(env, &owner_session.access_token, NOW).await;
    let admin_session = invite_and_accept(env, &owner, "grace@example.com", Role::Admin).await;
    let admin = authenticate(env, &admin_session.access_token, NOW).await;
    assert_eq!(admin.grant.role, Role::Admin);
    assert_eq!(admin.tenant_id, owner.tenant_id);

    let (invitation, token) = env.identity.invite(&admin, "  Linus@Example.com ", Role::Member, NOW).await.unwrap();
    assert_eq!(invitation.email, "linus@example.com");
    assert_eq!(invitation.role, Role::Member);
    assert_eq!(invitation.invited_by, admin.id);
    assert_eq!(invitation.tenant_id, owner.tenant_id);

    let member_session = env.identity.accept_invitation(&token, "Linus", &secret(PASSWORD), NOW).await.unwrap();
    assert_eq!(member_session.tenant_id, owner.tenant_id);
    assert_eq!(member_session.user.email, "linus@example.com");
    assert_eq!(member_session.user.name, "Linus");
    assert_eq!(member_session.user.role, Role::Member);
    let member = authenticate(env, &member_session.access_token, NOW).await;
    assert_eq!(member.tenant_id, owner.tenant_id);
    assert_eq!(member.id, member_session.user.id);
    assert_eq!(member.grant, Grant { role: Role::Member, scopes: None });

    // Single use.
    let again = env.identity.accept_invitation(&token, "Linus Again", &secret(OTHER_PASSWORD), NOW).await;
    assert_err!(again, IdentityError::NotFound | IdentityError::Conflict(_));
    // Malformed and unknown tokens.
    for bad in ["", "garbage", "kur_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        assert_err!(
            env.identity.accept_invitation(&secret(bad), "X", &secret(PASSWORD), NOW).await,
            IdentityError::NotFound
        );
    }

    // An invitation whose lifetime has passed is refused (its TTL is an hour before the real clock).
    let short_lived = env.service(IdentityConfig { invitation_ttl_secs: 60, ..IdentityConfig::default() });
    let past = chrono::Utc::now().timestamp() - 3600;
    let (_, expired) = short_lived.invite(&admin, "late@example.com", Role::Member, past).await.unwrap();
    assert_err!(
        env.identity.accept_invitation(&expired, "Late", &secret(PASSWORD), NOW).await,
        IdentityError::NotFound
    );

    // Roles: an admin cannot invite an owner; an existing email (any case) is a conflict.
    assert_err!(env.identity.invite(&admin, "boss@example.com", Role::Owner, NOW).await, IdentityError::Forbidden(_));
    assert_err!(env.identity.invite(&admin, "ADA@example.com", Role::Member, NOW).await, IdentityError::Conflict(_));
    assert_err!(env.identity.invite(&admin, "linus@example.com", Role::Viewer, NOW).await, IdentityError::Conflict(_));
    assert_err!(env.identity.invite(&admin, "not an email", Role::Viewer, NOW).await, IdentityError::Invalid(_));

    let (users, _) = env.identity.list_users(&owner.tenant_id, 100, None).await.unwrap();
    let emails: BTreeSet<&str> = users.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, BTreeSet::from(["ada@example.com", "grace@example.com", "linus@example.com"]));
}

// ---- 6. Roles and owners ----

async fn given_a_tenant_when_changing_roles_then_it_keeps_an_owner_and_only_owners_change_owners(env: &Env) {
    let first_session = signup(env, "Acme", "ada@example.com").await;
    let first = authenticate(env, &first_session.access_token, NOW).await;
    let tenant_id = first.tenant_id.clone();

    // The only owner can neither demote, disable nor remove themself.
    let demote = env.identity.change_role(&first, &first.id, Role::Admin).await;
    assert_err!(demote, IdentityError::Conflict(m) if m.contains("at least one active owner"));
    assert_err!(env.identity.set_status(&first, &first.id, UserStatus::Disabled).await, IdentityError::Conflict(_));
    let remove = env.identity.remove_user(&first, &first.id).await;
    assert_err!(remove, IdentityError::Conflict(m) if m.contains("at least one active owner"));
    assert_eq!(authenticate(env, &first_session.access_token, NOW).await.grant.role, Role::Owner);
    assert_eq!(env.identity.tenant(&tenant_id).await.unwrap().owners, 1);

    // An admin cannot touch an owner.
    let admin_session = invite_and_accept(env, &first, "grace@example.com", Role::Admin).await;
    let admin = authenticate(env, &admin_session.access_token, NOW).await;
    assert_err!(env.identity.change_role(&admin, &first.id, Role::Member).await, IdentityError::Forbidden(_));
    assert_err!(env.identity.set_status(&admin, &first.id, UserStatus::Disabled).await, IdentityError::Forbidden(_));
    assert_err!(env.identity.remove_user(&admin, &first.id).await, IdentityError::Forbidden(_));
    // Nor promote anyone (themself included) to owner.
    assert_err!(env.identity.change_role(&admin, &admin.id, Role::Owner).await, IdentityError::Forbidden(_));
    assert_eq!(env.identity.user(&tenant_id, &first.id).await.unwrap().role, Role::Owner);

    // With a second owner, the first may step down, and the change applies to live tokens at once.
    let second_session = invite_and_accept(env, &first, "linus@example.com", Role::Owner).await;
    let second = authenticate(env, &second_session.access_token, NOW).await;
    assert_eq!(second.grant.role, Role::Owner);
    assert_eq!(env.identity.tenant(&tenant_id).await.unwrap().owners, 2);
    let demoted = env.identity.change_role(&first, &first.id, Role::Admin).await.unwrap();
    assert_eq!(demoted.role, Role::Admin);
    assert_eq!(env.identity.tenant(&tenant_id).await.unwrap().owners, 1);
    assert_eq!(authenticate(env, &first_session.access_token, NOW).await.grant.role, Role::Admin);
    // Now the second is the only owner.
    let demote = env.identity.change_role(&second, &second.id, Role::Member).await;
    assert_err!(demote, IdentityError::Conflict(m) if m.contains("at least one active owner"));

    // A disabled user's token stops working and the right password no longer signs in.
    let disabled = env.identity.set_status(&second, &admin.id, UserStatus::Disabled).await.unwrap();
    assert_eq!(disabled.status, UserStatus::Disabled);
    assert_err!(env.identity.authenticate(&admin_session.access_token, NOW).await, IdentityError::Unauthenticated);
    assert_err!(
        env.identity.login("grace@example.com", &secret(PASSWORD), None, NOW).await,
        IdentityError::InvalidCredentials
    );
    assert_err!(env.identity.refresh(&admin_session.refresh_token, NOW).await, IdentityError::Unauthenticated);
}

// ---- 7. API keys ----

async fn given_an_api_key_when_it_is_used_stored_and_revoked_then_only_its_hash_is_kept_and_tenants_are_apart(
    env: &Env,
) {
    let owner = authenticate(env, &signup(env, "Acme", "ada@example.com").await.access_token, NOW).await;
    let other_owner = authenticate(env, &signup(env, "Globex", "hank@globex.example").await.access_token, NOW).await;

    let scopes = Some(vec![Permission::ControlsRead]);
    let (record, key) =
        env.identity.create_api_key(&owner, "ci", Role::Member, scopes.clone(), Some(30), NOW).await.unwrap();
    let key = key.expose_secret().to_owned();
    assert!(key.starts_with("kus_"), "unexpected key shape");
    assert_eq!(record.tenant_id, owner.tenant_id);
    assert_eq!((record.role, record.scopes.clone()), (Role::Member, scopes.clone()));
    assert_eq!(record.created_by, owner.id);
    assert_eq!(record.expires_at, Some(NOW + 30 * 86_400));

    let principal = authenticate(env, &key, NOW).await;
    assert_eq!(principal.kind, PrincipalKind::ApiKey);
    assert_eq!(principal.id, record.id);
    assert_eq!(principal.tenant_id, owner.tenant_id);
    assert_eq!(principal.grant, Grant { role: Role::Member, scopes: scopes.clone() });
    assert!(principal.allows(Permission::ControlsRead));
    assert!(!principal.allows(Permission::EvidenceRead), "scopes narrow the role");

    // Stored: the hash of the key, never the key or its secret part.
    let item = env.table.get(&keys::api_key(&record.id)).await.unwrap().expect("the key's item");
    let stored = format!(
        "{:?} {:?} {:?} {}",
        item.key,
        item.gsi1,
        item.expires_at,
        serde_json::to_string(&serde_json::Value::Object(item.attrs.clone())).unwrap()
    );
    assert_eq!(record.hash, kushim_auth::hash_token(&key).as_str());
    assert!(stored.contains(&record.hash), "the hash is stored");
    assert!(!stored.contains(&key), "the key itself is stored");
    let secret_part = &key["kus_".len() + record.id.len() + 1..];
    assert!(secret_part.len() >= 40);
    assert!(!stored.contains(secret_part), "the key's secret part is stored");

    // A key whose secret part is wrong is refused.
    let mut forged = key.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_err!(env.identity.authenticate(&forged, NOW).await, IdentityError::Unauthenticated);
    // So is the key after its expiry.
    assert_err!(env.identity.authenticate(&key, NOW + 31 * 86_400).await, IdentityError::Unauthenticated);

    // A member-role caller cannot create an admin key; scopes must be a non-empty subset of the role.
    let (member_record, member_key) =
        env.identity.create_api_key(&owner, "member", Role::Member, None, None, NOW).await.unwrap();
    let member = authenticate(env, member_key.expose_secret(), NOW).await;
    assert_eq!(member.grant, Grant { role: Role::Member, scopes: None });
    let escalate = env.identity.create_api_key(&member, "escalate", Role::Admin, None, None, NOW).await;
    assert_err!(escalate, IdentityError::Forbidden(_));
    for bad_scopes in [vec![Permission::UsersManage], vec![Permission::ControlsRead, Permission::ApiKeysManage], vec![]]
    {
        let result = env.identity.create_api_key(&owner, "bad", Role::Member, Some(bad_scopes), None, NOW).await;
        assert_err!(result, IdentityError::Invalid(_));
    }

    // Another tenant cannot revoke it (and cannot tell it exists), nor see it listed.
    let (other_record, _) =
        env.identity.create_api_key(&other_owner, "theirs", Role::Viewer, None, None, NOW).await.unwrap();
    assert_err!(env.identity.revoke_api_key(&other_owner, &record.id, NOW).await, IdentityError::NotFound);
    assert_err!(env.identity.revoke_api_key(&owner, "nosuchkey000", NOW).await, IdentityError::NotFound);
    authenticate(env, &key, NOW).await;
    let (listed, _) = env.identity.list_api_keys(&owner.tenant_id, 100, None).await.unwrap();
    let ids: BTreeSet<&str> = listed.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, BTreeSet::from([record.id.as_str(), member_record.id.as_str()]));
    let (listed, _) = env.identity.list_api_keys(&other_owner.tenant_id, 100, None).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, vec![other_record.id.as_str()]);

    // Revoked: refused from then on.
    let revoked = env.identity.revoke_api_key(&owner, &record.id, NOW + 5).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 5));
    assert_err!(env.identity.authenticate(&key, NOW + 6).await, IdentityError::Unauthenticated);
    // The member key is unaffected.
    authenticate(env, member_key.expose_secret(), NOW + 6).await;
}

// ---- 8. Tenant isolation ----

async fn given_two_tenants_when_one_names_the_others_user_then_it_is_not_found(env: &Env) {
    let a = signup(env, "Acme", "ada@example.com").await;
    let b = signup(env, "Globex", "hank@globex.example").await;
    let principal_b = authenticate(env, &b.access_token, NOW).await;
    assert_ne!(a.tenant_id, b.tenant_id);

    assert_eq!(env.identity.user(&a.tenant_id, &a.user.id).await.unwrap().id, a.user.id);
    assert_err!(env.identity.user(&principal_b.tenant_id, &a.user.id).await, IdentityError::NotFound);
    assert_err!(env.identity.change_role(&principal_b, &a.user.id, Role::Viewer).await, IdentityError::NotFound);
    assert_err!(env.identity.set_status(&principal_b, &a.user.id, UserStatus::Disabled).await, IdentityError::NotFound);
    assert_err!(env.identity.remove_user(&principal_b, &a.user.id).await, IdentityError::NotFound);

    // A's user is untouched and B lists only its own people.
    let principal_a = authenticate(env, &a.access_token, NOW).await;
    assert_eq!((principal_a.tenant_id.clone(), principal_a.grant.role), (a.tenant_id.clone(), Role::Owner));
    let (users, _) = env.identity.list_users(&b.tenant_id, 100, None).await.unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, vec![b.user.id.as_str()]);
    // B cannot end A's session with A's refresh token.
    env.identity.logout(&principal_b, &a.refresh_token).await.unwrap();
    env.identity.refresh(&a.refresh_token, NOW + 1).await.unwrap();
}

// ---- 9. Access-token integrity and key rotation ----

async fn given_an_access_token_when_it_is_altered_then_it_is_refused_and_rotation_keeps_it_valid(env: &Env) {
    let session = signup(env, "Acme", "ada@example.com").await;
    let token = session.access_token.clone();
    assert_eq!(authenticate(env, &token, NOW).await.id, session.user.id);

    // One character changed in the middle of the header, the claims or the signature.
    let mut start = 0;
    for (i, segment) in token.split('.').enumerate() {
        assert!(segment.len() > 2, "segment {i} is too short");
        let tampered = with_char_changed(&token, start + segment.len() / 2);
        assert_ne!(tampered, token);
        assert_err!(env.identity.authenticate(&tampered, NOW).await, IdentityError::Unauthenticated);
        start += segment.len() + 1;
    }
    assert_eq!(start, token.len() + 1, "a JWT has three segments");
    for bad in ["", "a.b.c", "kus_", &token[..token.len() - 10]] {
        assert_err!(env.identity.authenticate(bad, NOW).await, IdentityError::Unauthenticated);
    }
    // Expired; and not for another audience.
    assert_err!(env.identity.authenticate(&token, NOW + 3600).await, IdentityError::Unauthenticated);
    let elsewhere = env.service(IdentityConfig { audience: "another-api".into(), ..IdentityConfig::default() });
    assert_err!(elsewhere.authenticate(&token, NOW).await, IdentityError::Unauthenticated);

    // Rotation: the old token stays valid, new tokens use the new key, and a fresh instance reading
    // the stored key set agrees.
    let before = env.identity.signing_keys().get(NOW).await.unwrap().active().kid().to_owned();
    let after = env.identity.signing_keys().rotate(NOW + 60).await.unwrap();
    assert_ne!(after.active().kid(), before);
    assert!(after.get(&before).is_some(), "the old key is kept for verification");
    assert_eq!(authenticate(env, &token, NOW + 60).await.id, session.user.id);
    let rotated = env.identity.refresh(&session.refresh_token, NOW + 60).await.unwrap();
    assert_eq!(authenticate(env, &rotated.access_token, NOW + 60).await.id, session.user.id);
    let fresh = env.service(IdentityConfig::default());
    assert_eq!(fresh.signing_keys().get(NOW + 60).await.unwrap().active().kid(), after.active().kid());
    assert_eq!(fresh.authenticate(&token, NOW + 60).await.unwrap().id, session.user.id);
    assert_eq!(fresh.authenticate(&rotated.access_token, NOW + 60).await.unwrap().id, session.user.id);
    let jwks = fresh.jwks(NOW + 60).await.unwrap();
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2), "{jwks}");
}

// ---- 10. Changing the password ----

async fn given_a_signed_in_user_when_changing_the_password_then_the_old_password_and_tokens_stop_working(env: &Env) {
    let session = signup(env, "Acme", "ada@example.com").await;
    let principal = authenticate(env, &session.access_token, NOW).await;

    let wrong =
        env.identity.change_password(&principal, &secret(WRONG_PASSWORD), &secret(OTHER_PASSWORD), NOW + 10).await;
    assert_err!(wrong, IdentityError::InvalidCredentials);
    // Nothing changed.
    authenticate(env, &session.access_token, NOW + 10).await;

    // API keys have no password.
    let (_, key) = env.identity.create_api_key(&principal, "ci", Role::Owner, None, None, NOW).await.unwrap();
    let key_principal = authenticate(env, key.expose_secret(), NOW).await;
    let by_key = env.identity.change_password(&key_principal, &secret(PASSWORD), &secret(OTHER_PASSWORD), NOW).await;
    assert_err!(by_key, IdentityError::Forbidden(_));

    env.identity.change_password(&principal, &secret(PASSWORD), &secret(OTHER_PASSWORD), NOW + 10).await.unwrap();
    assert_err!(env.identity.authenticate(&session.access_token, NOW + 10).await, IdentityError::Unauthenticated);
    assert_err!(env.identity.refresh(&session.refresh_token, NOW + 10).await, IdentityError::Unauthenticated);

    assert_err!(
        env.identity.login("ada@example.com", &secret(PASSWORD), None, NOW + 11).await,
        IdentityError::InvalidCredentials
    );
    let renewed = env.identity.login("ada@example.com", &secret(OTHER_PASSWORD), None, NOW + 11).await.unwrap();
    assert_eq!(authenticate(env, &renewed.access_token, NOW + 11).await.id, session.user.id);
}

on_both_backends!(
    given_a_new_organisation_when_signing_up_then_its_owner_is_signed_in_and_the_email_is_taken,
    given_an_account_when_logging_in_then_failures_are_uniform_and_five_in_a_row_lock_it,
    given_a_refresh_token_when_it_is_reused_after_rotation_then_its_whole_family_is_revoked,
    given_two_sessions_when_logging_out_then_only_that_session_ends_and_logout_all_ends_everything,
    given_an_invitation_when_it_is_accepted_then_the_invitee_joins_once_and_role_rules_hold,
    given_a_tenant_when_changing_roles_then_it_keeps_an_owner_and_only_owners_change_owners,
    given_an_api_key_when_it_is_used_stored_and_revoked_then_only_its_hash_is_kept_and_tenants_are_apart,
    given_two_tenants_when_one_names_the_others_user_then_it_is_not_found,
    given_an_access_token_when_it_is_altered_then_it_is_refused_and_rotation_keeps_it_valid,
    given_a_signed_in_user_when_changing_the_password_then_the_old_password_and_tokens_stop_working,
);
