//! The [`Engine`]: configuration, directory, templates and verifier, loaded and validated
//! together, with the stages that need them (parse, authenticate, decide, compose). `check`
//! and `serve` both decide through [`Engine::decide`], so they decide a message the same way.

use crate::address::NormalizedAddress;
use crate::authentication::{Connection, Verifier, VerifierError};
use crate::config::DirectorySource;
use crate::config::{AuthenticationMode, Config, ConfigProblem};
use crate::directory::Account;
use crate::directory::{DatabaseError, Directory, DirectoryError};
use crate::policy::{
    decide, AuthResult, AuthSource, CategoryRule, Decision, Envelope, MessageFacts, PolicyInput,
    ReplyMemoryView, SenderHistory,
};
use crate::reply::{
    compose_notification, compose_reply, ComposeError, NotificationInput, OutgoingMessage,
    ReplyInput, Templates,
};
use mail_parser::{Message, MessageParser};
use std::sync::Arc;

/// Everything needed to decide: the configuration, the directory, the reply templates and (in
/// `verify` mode) the DNS verifier with its caches, loaded and validated together so that a
/// reload swaps them as one.
pub struct Engine {
    pub config: Config,
    /// Shared with the next engine when only the configuration changes, or only the directory
    /// (a live source: [`Engine::with_directory`]).
    pub directory: Arc<Directory>,
    pub templates: Templates,
    /// Set by [`Engine::load`] in `verify` mode, or [`Engine::start_verifier`].
    pub verifier: Option<Arc<Verifier>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config(Vec<ConfigProblem>),
    #[error("{0}")]
    Directory(#[from] DirectoryError),
    #[error("{0}")]
    Database(#[from] DatabaseError),
    #[error("authentication: {0}")]
    Verifier(#[from] VerifierError),
}

/// Input that is not an RFC 5322 message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty input")]
    Empty,
    #[error("not an RFC 5322 message: no header fields found")]
    NoHeaders,
}

/// Parse: bytes to a message. Anything with at least one header field is a message.
pub fn parse_message(bytes: &[u8]) -> Result<Message<'_>, ParseError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let message = MessageParser::default()
        .parse(bytes)
        .ok_or(ParseError::NoHeaders)?;
    if message.headers().is_empty() {
        return Err(ParseError::NoHeaders);
    }
    Ok(message)
}

/// The directory from its configured source (`[directory] source`), read whole.
pub fn load_directory(config: &Config) -> Result<Directory, EngineError> {
    match &config.directory_source {
        DirectorySource::File => Ok(Directory::load(
            &config.directory_path,
            &config.address_rules,
        )?),
        DirectorySource::Postgres(settings) => {
            let entries = crate::directory::load_once(settings)?;
            Ok(Directory::build(entries, &config.address_rules))
        }
    }
}

/// The result of the decide stage for one message and one account concerned.
pub struct Evaluation {
    pub decision: Decision,
    pub facts: MessageFacts,
}

impl Engine {
    pub fn load(config_path: &std::path::Path) -> Result<Engine, EngineError> {
        Engine::from_config(Config::load(config_path).map_err(EngineError::Config)?)
    }

    /// [`Engine::load`] for a configuration already read.
    pub fn from_config(config: Config) -> Result<Engine, EngineError> {
        let directory = load_directory(&config)?;
        Engine::with_config(config, directory)
    }

    /// [`Engine::from_config`] with the directory already at hand.
    pub fn with_config(
        config: Config,
        directory: impl Into<Arc<Directory>>,
    ) -> Result<Engine, EngineError> {
        let mut engine = Engine::assemble(config, directory)?;
        if engine.config.authentication.mode == AuthenticationMode::Verify {
            engine.start_verifier()?;
        }
        Ok(engine)
    }

    /// Builds the DNS verifier from `[authentication]` (nameservers, timeout). Offline
    /// commands never call it.
    pub fn start_verifier(&mut self) -> Result<(), EngineError> {
        let settings = &self.config.authentication;
        self.verifier = Some(Arc::new(Verifier::new(
            settings,
            &self.config.server.hostname,
        )?));
        Ok(())
    }

    /// Loads the templates for `config` and puts the engine together.
    pub fn assemble(
        config: Config,
        directory: impl Into<Arc<Directory>>,
    ) -> Result<Engine, EngineError> {
        let templates = Templates::load(&config.replies)
            .map_err(|problems| EngineError::Config(config.template_problems(problems)))?;
        Ok(Engine {
            config,
            directory: directory.into(),
            templates,
            verifier: None,
        })
    }

    /// This engine with another directory: what a live directory source puts in force.
    pub fn with_directory(&self, directory: Arc<Directory>) -> Engine {
        Engine {
            config: self.config.clone(),
            directory,
            templates: self.templates.clone(),
            verifier: self.verifier.clone(),
        }
    }

    /// The support address named in replies (the first configured one).
    fn support_address(&self) -> &NormalizedAddress {
        &self.config.support_addresses[0]
    }

    /// The configured rule of the decision's category, for its labels.
    fn category_of(&self, decision: &Decision) -> Option<&CategoryRule> {
        let name = decision.category.as_deref()?;
        self.config.policy.categories.get(name)
    }

    fn account_of(&self, decision: &Decision) -> Option<&Account> {
        let id = decision.account.as_deref()?;
        self.directory
            .account_by_id(id)
            .map(|a| self.directory.account(a))
    }

    /// The auto-reply for a decision whose plan is to send one to `to`.
    pub fn compose_reply(
        &self,
        decision: &Decision,
        to: &NormalizedAddress,
        facts: &MessageFacts,
        owner_notified: bool,
        now: u64,
        token: &str,
    ) -> Result<OutgoingMessage, ComposeError> {
        let input = ReplyInput {
            decision,
            recipient: to,
            facts,
            account: self.account_of(decision),
            category: self.category_of(decision),
            support_address: self.support_address(),
            owner_notified,
            now,
            message_token: token,
        };
        compose_reply(&input, &self.templates, &self.config.replies)
    }

    /// The P4 notifications to the owner and admins (empty when there is none to send).
    pub fn compose_notifications(
        &self,
        decision: &Decision,
        facts: &MessageFacts,
        now: u64,
        token: &str,
    ) -> Result<Vec<OutgoingMessage>, ComposeError> {
        let (Some(account), Some(sender)) = (self.account_of(decision), decision.sender.as_deref())
        else {
            return Ok(Vec::new());
        };
        let input = NotificationInput {
            decision,
            sender,
            facts,
            account,
            category: self.category_of(decision),
            support_address: self.support_address(),
            now,
            message_token: token,
        };
        compose_notification(&input, &self.templates, &self.config.replies)
    }

    /// Authenticate without the network: by configuration (`off`), by the trusted relay's
    /// header (`trusted-header`), or — in `verify` mode, which needs DNS — not verified unless
    /// `assume_authenticated`.
    pub fn authenticate_offline(
        &self,
        facts: &MessageFacts,
        assume_authenticated: bool,
    ) -> AuthResult {
        let settings = &self.config.authentication;
        if assume_authenticated {
            return AuthResult::with_source(AuthSource::Assumed);
        }
        match settings.mode {
            AuthenticationMode::Off => AuthResult::with_source(AuthSource::Off),
            AuthenticationMode::TrustedHeader => AuthResult::from_trusted_header(
                &facts.authentication_results,
                &settings.trusted_authserv_ids,
            ),
            AuthenticationMode::Verify => AuthResult::with_source(AuthSource::NotVerified),
        }
    }

    /// Authenticate: in `verify` mode with a verifier, SPF/DKIM/DMARC over DNS; otherwise as
    /// [`Engine::authenticate_offline`] (`verify` without a verifier: not verified).
    pub async fn authenticate(
        &self,
        facts: &MessageFacts,
        message: &[u8],
        connection: &Connection<'_>,
    ) -> AuthResult {
        match (&self.config.authentication.mode, &self.verifier) {
            (AuthenticationMode::Verify, Some(verifier)) => {
                verifier.verify(message, connection).await
            }
            _ => self.authenticate_offline(facts, false),
        }
    }

    /// Extracts the facts of a parsed message.
    pub fn facts(&self, message: &Message<'_>) -> MessageFacts {
        MessageFacts::extract(message, self.body_chars())
    }

    /// How much text of each part P4 reads (0: the Subject only).
    pub fn body_chars(&self) -> usize {
        let policy = &self.config.policy;
        if policy.categories_match_body {
            policy.category_body_chars
        } else {
            0
        }
    }

    /// Decide: the policy core on the facts of one message.
    pub fn decide(
        &self,
        facts: &MessageFacts,
        envelope: &Envelope,
        auth: &AuthResult,
        reply_memory: &dyn ReplyMemoryView,
        sender_history: &SenderHistory,
        now: u64,
    ) -> Decision {
        decide(&PolicyInput {
            envelope,
            facts,
            auth,
            directory: &self.directory,
            settings: &self.config.policy,
            reply_memory,
            sender_history,
            now,
        })
    }
}
