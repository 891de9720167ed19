-- The cost of the message-count triggers on `messages` (PostgreSQL; migration a003c0a3a003),
-- per statement: 10 000 one-row INSERTs, then 10 000 one-row status UPDATEs (each a change
-- of dimensions), with the triggers off and on, alternated twice. Run on a scratch database
-- migrated to head (see bench/RESULTS.md for the command).
\timing on
INSERT INTO contacts (id, address, address_kind, created_at) VALUES (md5('c')::uuid, '+12125550000', 'e164', now());
INSERT INTO senders (id, provider, channel, address, created_at) VALUES (md5('s')::uuid, 'plivo', 'sms', '+14155550100', now());
INSERT INTO conversations (id, contact_id, sender_id, channel, unread_count, created_at) VALUES (md5('v')::uuid, md5('c')::uuid, md5('s')::uuid, 'sms', 0, now());
CREATE FUNCTION pg_temp.send(round int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..10000 LOOP
        INSERT INTO messages (id, conversation_id, direction, channel, provider, from_address, to_address, status, price, attempts, created_at, updated_at)
        VALUES (md5(round || '-' || i)::uuid, md5('v')::uuid, 'outbound', 'sms', 'plivo', '+14155550100', '+12125550000', 'accepted', '0.0050', 0, now(), now());
    END LOOP;
END $$;
CREATE FUNCTION pg_temp.deliver(round int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..10000 LOOP
        UPDATE messages SET status = 'delivered' WHERE id = md5(round || '-' || i)::uuid;
    END LOOP;
END $$;
\echo triggers off
ALTER TABLE messages DISABLE TRIGGER message_counts_insert;
ALTER TABLE messages DISABLE TRIGGER message_counts_update;
SELECT pg_temp.send(1);
SELECT pg_temp.deliver(1);
\echo triggers on
ALTER TABLE messages ENABLE TRIGGER message_counts_insert;
ALTER TABLE messages ENABLE TRIGGER message_counts_update;
SELECT pg_temp.send(2);
SELECT pg_temp.deliver(2);
\echo triggers off
ALTER TABLE messages DISABLE TRIGGER message_counts_insert;
ALTER TABLE messages DISABLE TRIGGER message_counts_update;
SELECT pg_temp.send(3);
SELECT pg_temp.deliver(3);
\echo triggers on
ALTER TABLE messages ENABLE TRIGGER message_counts_insert;
ALTER TABLE messages ENABLE TRIGGER message_counts_update;
SELECT pg_temp.send(4);
SELECT pg_temp.deliver(4);
