-- Webhook subscribers: the secret their deliveries are signed with
-- (Standard Webhooks, `whsec_...`). Candor must sign with it, so it is kept
-- as given; it is shown to staff once, when the webhook is added.
ALTER TABLE subscribers ADD COLUMN secret TEXT;
