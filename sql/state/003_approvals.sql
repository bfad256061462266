-- supportgate state, step 3: pending approvals (SPEC §11), shared by a fleet: a request held
-- by one gateway can be approved or declined through any other (a reply, the CLI, the
-- console), and expired by whichever timer comes first. "First decision wins" is one
-- statement: UPDATE ... SET state = ... WHERE id = ... AND state = 'pending' RETURNING; the
-- second caller waits for the first one's row lock, re-checks the state and gets no row.

CREATE TABLE supportgate.approvals (
  id text PRIMARY KEY,                       -- the held request's queue id (sorts by time)
  token text NOT NULL UNIQUE,                -- the secret of its approve/decline addresses
  state text NOT NULL CHECK (state IN ('pending', 'approved', 'declined', 'expired')),
  closed_at bigint,                          -- Unix seconds; NULL while pending
  settled boolean NOT NULL DEFAULT false,    -- the follow-up (ticket or quarantine) is stored
  record jsonb NOT NULL,                     -- the whole request as the gateway knows it
  message bytea                              -- the held bytes; NULL once settled
);
CREATE INDEX approvals_closed_at ON supportgate.approvals (closed_at) WHERE settled;
