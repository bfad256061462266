-- supportgate state, step 1: the reply memory (SPEC §5, §12). Applied once by the gateway at
-- start or by `supportgate state migrate`, inside the transaction that records the step in
-- supportgate.state_migrations; never edit a step that has shipped, add the next one.

-- One row per (reason, address) or (notification category, requester): the last claim.
-- A gateway sends a reply only once its INSERT ... ON CONFLICT ... DO UPDATE ... WHERE
-- (claimed before the interval) RETURNING gave it a row: one reply per address, reason and
-- interval between all the gateways that share this database.
CREATE TABLE supportgate.reply_claims (
  key text PRIMARY KEY,
  claimed_at bigint NOT NULL                 -- Unix seconds
);
CREATE INDEX reply_claims_claimed_at ON supportgate.reply_claims (claimed_at);
