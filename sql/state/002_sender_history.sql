-- supportgate state, step 2: the sender history of SPEC §10 mail-loop, shared by a fleet: a
-- sender's messages are counted together whichever gateway they reach, and a block started by
-- one gateway holds on all. Each function takes a transaction-scoped advisory lock on the
-- sender, so that two messages from one sender are counted one after the other, as the
-- embedded store does; one call is one round trip.

CREATE TABLE supportgate.sender_arrivals (
  sender text NOT NULL,
  second bigint NOT NULL,                    -- Unix seconds
  messages integer NOT NULL,
  PRIMARY KEY (sender, second)
);
CREATE INDEX sender_arrivals_second ON supportgate.sender_arrivals (second);

CREATE TABLE supportgate.sender_message_ids (
  sender text NOT NULL,
  message_id text NOT NULL,
  first_at bigint NOT NULL,
  PRIMARY KEY (sender, message_id)
);
CREATE INDEX sender_message_ids_first_at ON supportgate.sender_message_ids (first_at);

CREATE TABLE supportgate.sender_blocks (
  sender text PRIMARY KEY,
  until bigint NOT NULL
);

CREATE FUNCTION supportgate.lock_sender(p_sender text) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(hashtextextended('supportgate.sender_history:' || p_sender, 0));
$$;

-- Records one message and says what was known before it within the window (seconds after
-- p_at - p_window). While the sender is blocked nothing is counted.
CREATE FUNCTION supportgate.record_arrival(
  p_sender text, p_message_id text, p_at bigint, p_window bigint,
  OUT blocked_until bigint, OUT recent integer, OUT repeated boolean,
  OUT counted boolean, OUT new_message_id boolean)
LANGUAGE plpgsql AS $$
DECLARE
  since bigint := p_at - p_window;
  seen bigint;
BEGIN
  PERFORM supportgate.lock_sender(p_sender);
  recent := 0; repeated := false; counted := false; new_message_id := false;
  SELECT b.until INTO blocked_until FROM supportgate.sender_blocks b WHERE b.sender = p_sender;
  IF blocked_until IS NOT NULL AND blocked_until > p_at THEN
    RETURN;
  END IF;
  SELECT LEAST(COALESCE(sum(a.messages), 0), 2147483647)::integer INTO recent
    FROM supportgate.sender_arrivals a WHERE a.sender = p_sender AND a.second > since;
  INSERT INTO supportgate.sender_arrivals AS a (sender, second, messages)
    VALUES (p_sender, p_at, 1)
    ON CONFLICT (sender, second) DO UPDATE SET messages = a.messages + 1;
  counted := true;
  IF p_message_id IS NOT NULL AND p_message_id <> '' THEN
    SELECT m.first_at INTO seen FROM supportgate.sender_message_ids m
      WHERE m.sender = p_sender AND m.message_id = p_message_id;
    repeated := seen IS NOT NULL AND seen > since;
    IF NOT repeated THEN
      INSERT INTO supportgate.sender_message_ids AS m (sender, message_id, first_at)
        VALUES (p_sender, p_message_id, p_at)
        ON CONFLICT (sender, message_id) DO UPDATE SET first_at = EXCLUDED.first_at;
      new_message_id := true;
    END IF;
  END IF;
END
$$;

-- Takes a recorded message back (the client was told to retry).
CREATE FUNCTION supportgate.forget_arrival(
  p_sender text, p_message_id text, p_at bigint, p_new_message_id boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM supportgate.lock_sender(p_sender);
  UPDATE supportgate.sender_arrivals SET messages = messages - 1
    WHERE sender = p_sender AND second = p_at AND messages > 1;
  IF NOT FOUND THEN
    DELETE FROM supportgate.sender_arrivals WHERE sender = p_sender AND second = p_at;
  END IF;
  IF p_new_message_id AND p_message_id IS NOT NULL THEN
    DELETE FROM supportgate.sender_message_ids
      WHERE sender = p_sender AND message_id = p_message_id;
  END IF;
END
$$;

-- Holds the sender back until p_until and forgets its arrivals; false if a block that lasts
-- at least that long was already there.
CREATE FUNCTION supportgate.block_sender(p_sender text, p_until bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM supportgate.lock_sender(p_sender);
  INSERT INTO supportgate.sender_blocks AS b (sender, until) VALUES (p_sender, p_until)
    ON CONFLICT (sender) DO UPDATE SET until = EXCLUDED.until WHERE b.until < EXCLUDED.until;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  DELETE FROM supportgate.sender_arrivals WHERE sender = p_sender;
  RETURN true;
END
$$;
