-- supportgate: the directory in PostgreSQL (SPEC §12), for [directory] source = "postgres".
--
-- Idempotent: run it again after an upgrade (psql -v ON_ERROR_STOP=1 -f directory.sql).
-- Every insert, update or delete of either table sends
--     NOTIFY supportgate_directory, '<account id>'
-- and the gateways re-read that account within a second. A vendor may replace the tables by
-- views with the same columns over its own schema, and send the same NOTIFY from its own
-- triggers (or rely on [directory] refresh). The channel is the trigger's argument below: keep
-- it equal to [directory] channel.

CREATE SCHEMA IF NOT EXISTS supportgate;

CREATE TABLE IF NOT EXISTS supportgate.accounts (
  id text PRIMARY KEY, name text NOT NULL, language text, sign_in_url text,
  status text NOT NULL DEFAULT 'active',
  hosts text[] NOT NULL DEFAULT '{}', mailboxes text[] NOT NULL DEFAULT '{}',
  helpdesk_addresses text[] NOT NULL DEFAULT '{}', group_addresses text[] NOT NULL DEFAULT '{}');

CREATE TABLE IF NOT EXISTS supportgate.agents (
  account_id text NOT NULL REFERENCES supportgate.accounts (id) ON DELETE CASCADE,
  name text NOT NULL, role text NOT NULL,   -- owner | admin | agent
  emails text[] NOT NULL);                  -- emails[1] is the primary address

-- One account's agents are read on every change of that account.
CREATE INDEX IF NOT EXISTS agents_account_id ON supportgate.agents (account_id);

-- NOTIFY <channel>, '<account id>' for the old and the new row (an id may change).
CREATE OR REPLACE FUNCTION supportgate.notify_directory() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  channel text := TG_ARGV[0];
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF TG_TABLE_NAME = 'accounts' THEN
      PERFORM pg_notify(channel, OLD.id);
    ELSE
      PERFORM pg_notify(channel, OLD.account_id);
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    IF TG_TABLE_NAME = 'accounts' THEN
      PERFORM pg_notify(channel, NEW.id);
    ELSE
      PERFORM pg_notify(channel, NEW.account_id);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS notify_directory ON supportgate.accounts;
CREATE TRIGGER notify_directory AFTER INSERT OR UPDATE OR DELETE ON supportgate.accounts
  FOR EACH ROW EXECUTE FUNCTION supportgate.notify_directory('supportgate_directory');

DROP TRIGGER IF EXISTS notify_directory ON supportgate.agents;
CREATE TRIGGER notify_directory AFTER INSERT OR UPDATE OR DELETE ON supportgate.agents
  FOR EACH ROW EXECUTE FUNCTION supportgate.notify_directory('supportgate_directory');
