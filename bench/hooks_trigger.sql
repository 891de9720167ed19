-- The cost of the outbound-webhook fan-out trigger on `live_events` (PostgreSQL), per INSERT
-- statement: 20 000 one-row inserts with the trigger on and off, no subscription; then with
-- one matching subscription (each insert also writes a delivery). Run on a scratch database
-- migrated to head (see bench/RESULTS.md for the command).
\timing on
DO $$ BEGIN FOR i IN 1..20000 LOOP INSERT INTO live_events (type, data, created_at) VALUES ('message.status', '{"id": "x"}', now()); END LOOP; END $$;
ALTER TABLE live_events DISABLE TRIGGER live_events_webhook_fan_out;
DO $$ BEGIN FOR i IN 1..20000 LOOP INSERT INTO live_events (type, data, created_at) VALUES ('message.status', '{"id": "x"}', now()); END LOOP; END $$;
ALTER TABLE live_events ENABLE TRIGGER live_events_webhook_fan_out;
INSERT INTO webhook_subscriptions VALUES (gen_random_uuid(), 'https://example.com', 'message.status', 'whsec_x', true, null, now());
DO $$ BEGIN FOR i IN 1..20000 LOOP INSERT INTO live_events (type, data, created_at) VALUES ('message.status', '{"id": "x"}', now()); END LOOP; END $$;
