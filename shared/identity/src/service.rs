//! The identity service: every operation on tenants, users, sessions, invitations and API keys.
//! Each takes the acting principal (never a tenant id from the request) and the current time.

use std::sync::Arc;

use chrono::{SecondsFormat, TimeZone, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::keys;
use kushim_adapters::secrets::{ExposeSecret, SecretString, Secrets};
use kushim_adapters::table::{Condition, Cursor, Item, Query, Table, TxOp, Update};
use kushim_api::{Principal, PrincipalKind};
use kushim_auth::{TokenConfig, TokenHash};
use kushim_domain::{Grant, Permission, Role, TenantId};
use serde::Serialize;

use crate::model::{
    ApiKeyRecord, InvitationRecord, RefreshRecord, TenantRecord, TenantSettings, UserRecord, UserStatus, UserView,
    normalize_email,
};
use crate::signing::SigningKeys;
use crate::{IdentityError, throttle};

type Result<T> = std::result::Result<T, IdentityError>;

/// Lifetimes and token identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Access-token lifetime (≤ 900 s).
    pub access_ttl_secs: i64,
    /// Refresh-token lifetime.
    pub refresh_ttl_secs: i64,
    /// Invitation lifetime.
    pub invitation_ttl_secs: i64,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            issuer: "https://api.kushim.dev".into(),
            audience: "kushim-api".into(),
            access_ttl_secs: 900,
            refresh_ttl_secs: 14 * 24 * 3600,
            invitation_ttl_secs: 7 * 24 * 3600,
        }
    }
}

/// A signed-in session: what login, sign-up, refresh and invitation acceptance return.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// The tenant.
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// The user.
    pub user: UserView,
    /// The access token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token (single use).
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String)]
    pub refresh_token: SecretString,
}

fn expose<S: serde::Serializer>(s: &SecretString, ser: S) -> std::result::Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose_secret())
}

/// Sign-up input.
#[derive(Debug)]
pub struct SignupInput {
    /// The organisation's name.
    pub tenant_name: String,
    /// The first owner's email.
    pub email: String,
    /// The first owner's name.
    pub name: String,
    /// Their password.
    pub password: SecretString,
}

/// The identity service.
#[derive(Clone)]
pub struct Identity {
    table: Arc<dyn Table>,
    keys: SigningKeys,
    config: IdentityConfig,
    tokens: TokenConfig,
}

fn rfc3339(epoch: i64) -> String {
    Utc.timestamp_opt(epoch, 0).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn to_attrs<T: Serialize>(value: &T) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

fn record_item<T: Serialize>(key: kushim_adapters::table::Key, value: &T) -> Item {
    Item { attrs: to_attrs(value), ..Item::new(key) }
}

fn check_name(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(format!("{field} must be 1-{max} printable characters")));
    }
    Ok(v.to_owned())
}

fn policy(password: &SecretString, email: &str) -> Result<()> {
    kushim_auth::check_policy_for(password, Some(email)).map_err(|e| IdentityError::Invalid(e.to_string()))
}

impl Identity {
    /// Builds the service over the ports.
    pub fn new(table: Arc<dyn Table>, secrets: Arc<dyn Secrets>, config: IdentityConfig) -> Self {
        let mut tokens = TokenConfig::new(config.issuer.clone(), config.audience.clone());
        tokens.ttl_secs = config.access_ttl_secs;
        Self { table, keys: SigningKeys::new(secrets), config, tokens }
    }

    /// The signing keys (for rotation).
    pub fn signing_keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// The public keys, as a JWKS document.
    pub async fn jwks(&self, now: i64) -> Result<serde_json::Value> {
        Ok(kushim_auth::jwks(&*self.keys.get(now).await?))
    }

    async fn load<T: serde::de::DeserializeOwned>(
        &self,
        key: &kushim_adapters::table::Key,
    ) -> Result<Option<(T, Item)>> {
        match self.table.get(key).await? {
            None => Ok(None),
            Some(item) => Ok(Some((item.parse()?, item))),
        }
    }

    /// A user of the tenant.
    pub async fn user(&self, tenant: &TenantId, user_id: &str) -> Result<UserRecord> {
        if user_id.is_empty() || user_id.len() > 64 || user_id.contains('#') {
            return Err(IdentityError::NotFound);
        }
        self.load::<UserRecord>(&keys::user(tenant, user_id)).await?.map(|(u, _)| u).ok_or(IdentityError::NotFound)
    }

    /// The tenant.
    pub async fn tenant(&self, tenant: &TenantId) -> Result<TenantRecord> {
        self.load::<TenantRecord>(&keys::tenant(tenant)).await?.map(|(t, _)| t).ok_or(IdentityError::NotFound)
    }

    async fn start_session(&self, user: &UserRecord, now: i64) -> Result<Session> {
        let family = uuid::Uuid::now_v7().simple().to_string();
        let (refresh, hash) = kushim_auth::new_refresh_token();
        let expires = now + self.config.refresh_ttl_secs;
        let session = Item::new(keys::session(&user.tenant_id, &user.id, &family))
            .with("family", family.clone())
            .with("user_id", user.id.clone())
            .with("created_at", rfc3339(now))
            .with("revoked", false)
            .expiring_at(expires);
        let token = record_item(
            keys::refresh_token(hash.as_str()),
            &RefreshRecord { tenant_id: user.tenant_id.clone(), user_id: user.id.clone(), family, used: false },
        )
        .expiring_at(expires);
        self.table
            .transact_write(vec![
                TxOp::Put { item: session, condition: Some(Condition::NotExists) },
                TxOp::Put { item: token, condition: Some(Condition::NotExists) },
            ])
            .await?;
        self.session_for(user, refresh.into_secret_string(), now).await
    }

    async fn session_for(&self, user: &UserRecord, refresh: SecretString, now: i64) -> Result<Session> {
        let keys = self.keys.get(now).await?;
        // Tokens issued before `sessions_valid_after` are refused; one issued within the same
        // second as a "log out everywhere" is dated at that boundary so it stays valid.
        let now = now.max(user.sessions_valid_after);
        let (access, claims) = kushim_auth::issue(
            &keys,
            &self.tokens,
            &user.id,
            &user.tenant_id,
            user.role.as_str(),
            &[],
            kushim_auth::PrincipalKind::User,
            now,
        )?;
        Ok(Session {
            tenant_id: user.tenant_id.clone(),
            user: UserView::from(user),
            access_token: access,
            token_type: "Bearer",
            expires_in: claims.exp - now,
            refresh_token: refresh,
        })
    }

    /// Creates a tenant with its first owner and signs them in.
    pub async fn signup(&self, input: SignupInput, now: i64) -> Result<Session> {
        let email = normalize_email(&input.email).map_err(IdentityError::Invalid)?;
        let name = check_name("name", &input.name, 128)?;
        let tenant_name = check_name("tenant_name", &input.tenant_name, 128)?;
        policy(&input.password, &email)?;
        let hash = kushim_auth::hash_password(&input.password)?;
        let tenant_id = TenantId::generate();
        let user_id = uuid::Uuid::now_v7().simple().to_string();
        let tenant = TenantRecord {
            id: tenant_id.clone(),
            name: tenant_name,
            created_at: rfc3339(now),
            owners: 1,
            settings: TenantSettings::default(),
            version: 1,
        };
        let user = UserRecord {
            id: user_id.clone(),
            tenant_id: tenant_id.clone(),
            email: email.clone(),
            name,
            role: Role::Owner,
            status: UserStatus::Active,
            created_at: rfc3339(now),
            sessions_valid_after: 0,
            version: 1,
        };
        let ops = vec![
            TxOp::Put {
                item: Item::new(keys::email(&email))
                    .with("tenant_id", tenant_id.as_str())
                    .with("user_id", user_id.clone()),
                condition: Some(Condition::NotExists),
            },
            TxOp::Put { item: record_item(keys::tenant(&tenant_id), &tenant), condition: Some(Condition::NotExists) },
            TxOp::Put {
                item: record_item(keys::user(&tenant_id, &user_id), &user),
                condition: Some(Condition::NotExists),
            },
            TxOp::Put {
                item: Item::new(keys::credential(&tenant_id, &user_id)).with("password_hash", hash),
                condition: Some(Condition::NotExists),
            },
        ];
        match self.table.transact_write(ops).await {
            Ok(()) => {}
            Err(AdapterError::TransactionCanceled { .. }) => {
                return Err(IdentityError::Conflict("an account with this email already exists".into()));
            }
            Err(e) => return Err(e.into()),
        }
        self.start_session(&user, now).await
    }

    /// Signs in with email and password. Unknown accounts and wrong passwords give the same
    /// error after the same work; repeated failures lock the account.
    pub async fn login(&self, email: &str, password: &SecretString, source: Option<&str>, now: i64) -> Result<Session> {
        let Ok(email) = normalize_email(email) else {
            kushim_auth::dummy_verify(password);
            return Err(IdentityError::InvalidCredentials);
        };
        throttle::before_attempt(self.table.as_ref(), &email, source, now).await?;
        let user = match self.table.get(&keys::email(&email)).await? {
            Some(claim) => {
                let tenant = claim.attrs.get("tenant_id").and_then(|v| v.as_str()).and_then(|t| TenantId::new(t).ok());
                let user_id = claim.attrs.get("user_id").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                match tenant {
                    Some(t) => self.user(&t, &user_id).await.ok(),
                    None => None,
                }
            }
            None => None,
        };
        let stored_hash = match &user {
            Some(u) => self
                .table
                .get(&keys::credential(&u.tenant_id, &u.id))
                .await?
                .and_then(|c| c.attrs.get("password_hash").and_then(|v| v.as_str()).map(str::to_owned)),
            None => None,
        };
        let verified = match &stored_hash {
            Some(h) => kushim_auth::verify_password(password, h),
            None => {
                kushim_auth::dummy_verify(password);
                false
            }
        };
        let user = match (verified, user) {
            (true, Some(u)) if u.status == UserStatus::Active => u,
            _ => {
                throttle::failed(self.table.as_ref(), &email, now).await?;
                return Err(IdentityError::InvalidCredentials);
            }
        };
        throttle::succeeded(self.table.as_ref(), &email).await?;
        if let Some(h) = stored_hash.filter(|h| kushim_auth::needs_rehash(h)) {
            let fresh = kushim_auth::hash_password(password)?;
            let _ = h;
            self.table
                .update(
                    &keys::credential(&user.tenant_id, &user.id),
                    Update::default().set("password_hash", fresh),
                    None,
                )
                .await?;
        }
        self.start_session(&user, now).await
    }

    async fn revoke_family(&self, tenant: &TenantId, user_id: &str, family: &str) -> Result<()> {
        let res = self
            .table
            .update(
                &keys::session(tenant, user_id, family),
                Update::default().set("revoked", true),
                Some(Condition::Exists),
            )
            .await;
        match res {
            Ok(_) | Err(AdapterError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Exchanges a refresh token for a new pair. A spent token revokes its whole family.
    pub async fn refresh(&self, token: &SecretString, now: i64) -> Result<Session> {
        let token = token.expose_secret();
        if !kushim_auth::is_refresh_token(token) {
            return Err(IdentityError::Unauthenticated);
        }
        let hash = kushim_auth::hash_token(token);
        let Some((record, _)) = self.load::<RefreshRecord>(&keys::refresh_token(hash.as_str())).await? else {
            return Err(IdentityError::Unauthenticated);
        };
        if record.used {
            tracing::warn!(tenant = %record.tenant_id, "a spent refresh token was presented; revoking its session");
            self.revoke_family(&record.tenant_id, &record.user_id, &record.family).await?;
            return Err(IdentityError::Unauthenticated);
        }
        let session_key = keys::session(&record.tenant_id, &record.user_id, &record.family);
        let session = self.table.get(&session_key).await?;
        if session.as_ref().is_none_or(|s| s.attrs.get("revoked") != Some(&serde_json::Value::Bool(false))) {
            return Err(IdentityError::Unauthenticated);
        }
        let user = self.user(&record.tenant_id, &record.user_id).await.map_err(|_| IdentityError::Unauthenticated)?;
        if user.status != UserStatus::Active {
            return Err(IdentityError::Unauthenticated);
        }
        let (next, next_hash) = kushim_auth::new_refresh_token();
        let expires = now + self.config.refresh_ttl_secs;
        let next_item =
            record_item(keys::refresh_token(next_hash.as_str()), &RefreshRecord { used: false, ..record.clone() })
                .expiring_at(expires);
        let mut spend = Update::default().set("used", true);
        spend.expires_at = Some(expires);
        let ops = vec![
            TxOp::Update {
                key: keys::refresh_token(hash.as_str()),
                update: spend,
                condition: Some(Condition::AttributeEquals("used".into(), false.into())),
            },
            TxOp::Put { item: next_item, condition: Some(Condition::NotExists) },
            TxOp::Check { key: session_key, condition: Condition::AttributeEquals("revoked".into(), false.into()) },
        ];
        match self.table.transact_write(ops).await {
            Ok(()) => self.session_for(&user, next.into_secret_string(), now).await,
            Err(AdapterError::TransactionCanceled { .. }) => {
                // Someone spent it at the same moment: treat as reuse.
                self.revoke_family(&record.tenant_id, &record.user_id, &record.family).await?;
                Err(IdentityError::Unauthenticated)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the session the refresh token belongs to (if it is the caller's).
    pub async fn logout(&self, principal: &Principal, token: &SecretString) -> Result<()> {
        let hash = kushim_auth::hash_token(token.expose_secret());
        if let Some((record, _)) = self.load::<RefreshRecord>(&keys::refresh_token(hash.as_str())).await?
            && record.tenant_id == principal.tenant_id
            && record.user_id == principal.id
        {
            self.revoke_family(&record.tenant_id, &record.user_id, &record.family).await?;
        }
        Ok(())
    }

    /// Ends every session of the caller and invalidates every access token issued so far.
    pub async fn logout_all(&self, principal: &Principal, now: i64) -> Result<()> {
        self.end_all_sessions(&principal.tenant_id, &principal.id, now).await
    }

    async fn end_all_sessions(&self, tenant: &TenantId, user_id: &str, now: i64) -> Result<()> {
        self.table
            .update(
                &keys::user(tenant, user_id),
                Update::default().set("sessions_valid_after", now + 1),
                Some(Condition::Exists),
            )
            .await?;
        let mut cursor = None;
        loop {
            let page = self
                .table
                .query(
                    Query::partition(keys::tenant_pk(tenant))
                        .begins_with(keys::session_prefix(user_id))
                        .limit(100)
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                self.table
                    .update(&item.key, Update::default().set("revoked", true), Some(Condition::Exists))
                    .await
                    .ok();
            }
            cursor = page.cursor;
            if cursor.is_none() {
                return Ok(());
            }
        }
    }

    /// Verifies a bearer credential (access token or API key) and returns the principal.
    pub async fn authenticate(&self, bearer: &str, now: i64) -> Result<Principal> {
        if bearer.starts_with("kus_") {
            return self.authenticate_api_key(bearer, now).await;
        }
        let keys = self.keys.get(now).await?;
        let claims = kushim_auth::verify(&keys, &self.tokens, bearer, now).map_err(|e| {
            tracing::info!(reason = e.code(), "access token refused");
            IdentityError::Unauthenticated
        })?;
        if claims.kind != kushim_auth::PrincipalKind::User {
            return Err(IdentityError::Unauthenticated);
        }
        let user = self.user(&claims.tid, &claims.sub).await.map_err(|_| IdentityError::Unauthenticated)?;
        if user.status != UserStatus::Active || claims.iat < user.sessions_valid_after {
            return Err(IdentityError::Unauthenticated);
        }
        Ok(Principal {
            tenant_id: user.tenant_id,
            id: user.id,
            kind: PrincipalKind::User,
            grant: Grant { role: user.role, scopes: None },
        })
    }

    async fn authenticate_api_key(&self, presented: &str, now: i64) -> Result<Principal> {
        let (key_id, full) = kushim_auth::parse_api_key(presented).ok_or(IdentityError::Unauthenticated)?;
        let (record, _) =
            self.load::<ApiKeyRecord>(&keys::api_key(&key_id)).await?.ok_or(IdentityError::Unauthenticated)?;
        let hash = TokenHash::from_hex(&record.hash).ok_or(IdentityError::Unauthenticated)?;
        if !hash.matches(full.expose_secret())
            || record.revoked_at.is_some()
            || record.expires_at.is_some_and(|e| e <= now)
        {
            return Err(IdentityError::Unauthenticated);
        }
        if record.last_used_at.is_none_or(|t| now - t >= 60) {
            let _ = self
                .table
                .update(&keys::api_key(&key_id), Update::default().set("last_used_at", now), Some(Condition::Exists))
                .await;
        }
        Ok(Principal {
            tenant_id: record.tenant_id,
            id: record.id,
            kind: PrincipalKind::ApiKey,
            grant: Grant { role: record.role, scopes: record.scopes },
        })
    }

    /// A page of the tenant's users.
    pub async fn list_users(
        &self,
        tenant: &TenantId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<UserRecord>, Option<Cursor>)> {
        let page = self
            .table
            .query(Query::partition(keys::tenant_pk(tenant)).begins_with(keys::USER_PREFIX).limit(limit).after(cursor))
            .await?;
        let users = page.items.iter().map(|i| i.parse::<UserRecord>()).collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((users, page.cursor))
    }

    /// Invites someone; returns the invitation and its single-use token (to be emailed).
    pub async fn invite(
        &self,
        actor: &Principal,
        email: &str,
        role: Role,
        now: i64,
    ) -> Result<(InvitationRecord, SecretString)> {
        if !actor.grant.role.can_grant(role) {
            return Err(IdentityError::Forbidden("cannot invite to a role above your own"));
        }
        let email = normalize_email(email).map_err(IdentityError::Invalid)?;
        let tenant = self.tenant(&actor.tenant_id).await?;
        if !tenant.settings.allowed_email_domains.is_empty()
            && !tenant.settings.allowed_email_domains.iter().any(|d| email.ends_with(&format!("@{}", d.to_lowercase())))
        {
            return Err(IdentityError::Invalid("the tenant only allows invitations to its own email domains".into()));
        }
        if self.table.get(&keys::email(&email)).await?.is_some() {
            return Err(IdentityError::Conflict("an account with this email already exists".into()));
        }
        let (token, hash) = kushim_auth::new_refresh_token();
        let invitation = InvitationRecord {
            tenant_id: actor.tenant_id.clone(),
            email,
            role,
            invited_by: actor.id.clone(),
            created_at: rfc3339(now),
        };
        let item = record_item(keys::invitation(hash.as_str()), &invitation)
            .expiring_at(now + self.config.invitation_ttl_secs);
        self.table.put(item, Some(Condition::NotExists)).await?;
        Ok((invitation, token.into_secret_string()))
    }

    /// Accepts an invitation (single use, before it expires), creating the user and signing them in.
    pub async fn accept_invitation(
        &self,
        token: &SecretString,
        name: &str,
        password: &SecretString,
        now: i64,
    ) -> Result<Session> {
        if !kushim_auth::is_refresh_token(token.expose_secret()) {
            return Err(IdentityError::NotFound);
        }
        let hash = kushim_auth::hash_token(token.expose_secret());
        let invite_key = keys::invitation(hash.as_str());
        let (invitation, _) = self.load::<InvitationRecord>(&invite_key).await?.ok_or(IdentityError::NotFound)?;
        let name = check_name("name", name, 128)?;
        policy(password, &invitation.email)?;
        let (tenant, tenant_item) =
            self.load::<TenantRecord>(&keys::tenant(&invitation.tenant_id)).await?.ok_or(IdentityError::NotFound)?;
        let user = UserRecord {
            id: uuid::Uuid::now_v7().simple().to_string(),
            tenant_id: invitation.tenant_id.clone(),
            email: invitation.email.clone(),
            name,
            role: invitation.role,
            status: UserStatus::Active,
            created_at: rfc3339(now),
            sessions_valid_after: 0,
            version: 1,
        };
        let password_hash = kushim_auth::hash_password(password)?;
        let mut ops = vec![
            TxOp::Delete { key: invite_key, condition: Some(Condition::Exists) },
            TxOp::Put {
                item: Item::new(keys::email(&user.email))
                    .with("tenant_id", user.tenant_id.as_str())
                    .with("user_id", user.id.clone()),
                condition: Some(Condition::NotExists),
            },
            TxOp::Put {
                item: record_item(keys::user(&user.tenant_id, &user.id), &user),
                condition: Some(Condition::NotExists),
            },
            TxOp::Put {
                item: Item::new(keys::credential(&user.tenant_id, &user.id)).with("password_hash", password_hash),
                condition: Some(Condition::NotExists),
            },
        ];
        if user.role == Role::Owner {
            ops.push(TxOp::Update {
                key: tenant_item.key.clone(),
                update: Update::default().add("owners", 1).add("version", 1),
                condition: Some(Condition::VersionEquals(tenant.version)),
            });
        }
        match self.table.transact_write(ops).await {
            Ok(()) => self.start_session(&user, now).await,
            Err(AdapterError::TransactionCanceled { .. }) => {
                Err(IdentityError::Conflict("the invitation was already used, or the email is taken".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Applies a change to a user, keeping the tenant's owner count and the "at least one
    /// owner" rule consistent under concurrency (optimistic locking on tenant and user).
    async fn change_user(&self, actor: &Principal, user_id: &str, change: UserChange) -> Result<Option<UserRecord>> {
        for _ in 0..5 {
            let (user, _) = self
                .load::<UserRecord>(&keys::user(&actor.tenant_id, user_id))
                .await?
                .ok_or(IdentityError::NotFound)?;
            if user.role == Role::Owner && actor.grant.role != Role::Owner {
                return Err(IdentityError::Forbidden("only owners may change owners"));
            }
            let was_owner = user.role == Role::Owner && user.status == UserStatus::Active;
            let (after, delete) = match &change {
                UserChange::Role(role) => {
                    if !actor.grant.role.can_grant(*role) {
                        return Err(IdentityError::Forbidden("cannot grant a role above your own"));
                    }
                    (Some(UserRecord { role: *role, version: user.version + 1, ..user.clone() }), false)
                }
                UserChange::Status(status) => {
                    (Some(UserRecord { status: *status, version: user.version + 1, ..user.clone() }), false)
                }
                UserChange::Remove => (None, true),
            };
            let is_owner = after.as_ref().is_some_and(|u| u.role == Role::Owner && u.status == UserStatus::Active);
            let mut ops = Vec::new();
            if was_owner != is_owner {
                let (tenant, _) =
                    self.load::<TenantRecord>(&keys::tenant(&actor.tenant_id)).await?.ok_or(IdentityError::NotFound)?;
                if was_owner && tenant.owners <= 1 {
                    return Err(IdentityError::Conflict("a tenant must keep at least one active owner".into()));
                }
                ops.push(TxOp::Update {
                    key: keys::tenant(&actor.tenant_id),
                    update: Update::default().add("owners", if is_owner { 1 } else { -1 }).add("version", 1),
                    condition: Some(Condition::VersionEquals(tenant.version)),
                });
            }
            let user_key = keys::user(&actor.tenant_id, user_id);
            match &after {
                Some(u) => ops.push(TxOp::Put {
                    item: record_item(user_key, u),
                    condition: Some(Condition::VersionEquals(user.version)),
                }),
                None => {
                    ops.push(TxOp::Delete { key: user_key, condition: Some(Condition::VersionEquals(user.version)) });
                    ops.push(TxOp::Delete { key: keys::credential(&actor.tenant_id, user_id), condition: None });
                    ops.push(TxOp::Delete { key: keys::email(&user.email), condition: None });
                }
            }
            match self.table.transact_write(ops).await {
                Ok(()) => {
                    if delete || after.as_ref().is_some_and(|u| u.status == UserStatus::Disabled) {
                        // Disabled and removed users lose every session at once.
                        let now = Utc::now().timestamp();
                        if !delete {
                            self.end_all_sessions(&actor.tenant_id, user_id, now).await?;
                        }
                    }
                    return Ok(after);
                }
                Err(AdapterError::TransactionCanceled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IdentityError::Conflict("the user changed concurrently; retry".into()))
    }

    /// Changes a user's role.
    pub async fn change_role(&self, actor: &Principal, user_id: &str, role: Role) -> Result<UserRecord> {
        self.change_user(actor, user_id, UserChange::Role(role)).await?.ok_or(IdentityError::NotFound)
    }

    /// Disables or re-enables a user.
    pub async fn set_status(&self, actor: &Principal, user_id: &str, status: UserStatus) -> Result<UserRecord> {
        if user_id == actor.id && status == UserStatus::Disabled {
            return Err(IdentityError::Conflict("you cannot disable yourself".into()));
        }
        self.change_user(actor, user_id, UserChange::Status(status)).await?.ok_or(IdentityError::NotFound)
    }

    /// Removes a user.
    pub async fn remove_user(&self, actor: &Principal, user_id: &str) -> Result<()> {
        self.change_user(actor, user_id, UserChange::Remove).await.map(|_| ())
    }

    /// Changes the caller's display name.
    pub async fn update_profile(&self, principal: &Principal, name: &str) -> Result<UserRecord> {
        let name = check_name("name", name, 128)?;
        let item = self
            .table
            .update(
                &keys::user(&principal.tenant_id, &principal.id),
                Update::default().set("name", name).add("version", 1),
                Some(Condition::Exists),
            )
            .await
            .map_err(|e| match e {
                AdapterError::ConditionFailed => IdentityError::NotFound,
                e => e.into(),
            })?;
        Ok(item.parse()?)
    }

    /// Changes the caller's password (the current one is required) and ends every session.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &SecretString,
        new: &SecretString,
        now: i64,
    ) -> Result<()> {
        if principal.kind != PrincipalKind::User {
            return Err(IdentityError::Forbidden("API keys have no password"));
        }
        let user = self.user(&principal.tenant_id, &principal.id).await?;
        let cred_key = keys::credential(&user.tenant_id, &user.id);
        let stored = self
            .table
            .get(&cred_key)
            .await?
            .and_then(|c| c.attrs.get("password_hash").and_then(|v| v.as_str()).map(str::to_owned));
        if !stored.is_some_and(|h| kushim_auth::verify_password(current, &h)) {
            return Err(IdentityError::InvalidCredentials);
        }
        policy(new, &user.email)?;
        let hash = kushim_auth::hash_password(new)?;
        self.table.update(&cred_key, Update::default().set("password_hash", hash), Some(Condition::Exists)).await?;
        self.end_all_sessions(&user.tenant_id, &user.id, now).await
    }

    /// Creates an API key; the secret is returned once and only its hash is stored.
    pub async fn create_api_key(
        &self,
        actor: &Principal,
        name: &str,
        role: Role,
        scopes: Option<Vec<Permission>>,
        expires_in_days: Option<u32>,
        now: i64,
    ) -> Result<(ApiKeyRecord, kushim_auth::Secret)> {
        if !actor.grant.role.can_grant(role) {
            return Err(IdentityError::Forbidden("cannot create a key with a role above your own"));
        }
        if let Some(s) = &scopes
            && (s.is_empty() || s.iter().any(|p| !role.allows(*p)))
        {
            return Err(IdentityError::Invalid("scopes must be a non-empty subset of the key's role".into()));
        }
        if expires_in_days.is_some_and(|d| !(1..=730).contains(&d)) {
            return Err(IdentityError::Invalid("expires_in_days must be 1-730".into()));
        }
        let name = check_name("name", name, 100)?;
        let key = kushim_auth::new_api_key();
        let record = ApiKeyRecord {
            id: key.id.clone(),
            tenant_id: actor.tenant_id.clone(),
            name,
            role,
            scopes,
            hash: key.hash.as_str().to_owned(),
            created_by: actor.id.clone(),
            created_at: rfc3339(now),
            expires_at: expires_in_days.map(|d| now + i64::from(d) * 86_400),
            last_used_at: None,
            revoked_at: None,
        };
        let item = record_item(keys::api_key(&key.id), &record).indexed(kushim_adapters::table::Key::new(
            keys::api_keys_index(&actor.tenant_id),
            format!("{}#{}", record.created_at, key.id),
        ));
        self.table.put(item, Some(Condition::NotExists)).await?;
        Ok((record, key.secret))
    }

    /// A page of the tenant's API keys, newest first.
    pub async fn list_api_keys(
        &self,
        tenant: &TenantId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<ApiKeyRecord>, Option<Cursor>)> {
        let page =
            self.table.query(Query::gsi1(keys::api_keys_index(tenant)).backward().limit(limit).after(cursor)).await?;
        let keys = page.items.iter().map(|i| i.parse::<ApiKeyRecord>()).collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((keys, page.cursor))
    }

    /// Revokes an API key of the caller's tenant.
    pub async fn revoke_api_key(&self, actor: &Principal, key_id: &str, now: i64) -> Result<ApiKeyRecord> {
        if key_id.is_empty() || key_id.len() > 32 || !key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdentityError::NotFound);
        }
        let (record, _) = self.load::<ApiKeyRecord>(&keys::api_key(key_id)).await?.ok_or(IdentityError::NotFound)?;
        if record.tenant_id != actor.tenant_id {
            return Err(IdentityError::NotFound);
        }
        if record.revoked_at.is_some() {
            return Ok(record);
        }
        let item = self
            .table
            .update(
                &keys::api_key(key_id),
                Update::default().set("revoked_at", now),
                Some(Condition::AttributeEquals("tenant_id".into(), actor.tenant_id.as_str().into())),
            )
            .await?;
        Ok(item.parse()?)
    }

    /// Replaces the tenant's settings.
    pub async fn update_settings(&self, actor: &Principal, settings: TenantSettings) -> Result<TenantRecord> {
        settings.validate().map_err(IdentityError::Invalid)?;
        let value = serde_json::to_value(&settings).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let item = self
            .table
            .update(
                &keys::tenant(&actor.tenant_id),
                Update::default().set("settings", value).add("version", 1),
                Some(Condition::Exists),
            )
            .await?;
        Ok(item.parse()?)
    }
}

enum UserChange {
    Role(Role),
    Status(UserStatus),
    Remove,
}
