-- Tenant isolation: row-level security confines a database role to the
-- accounts that convo.account_roles maps it to. The owner of the tables,
-- superusers and roles with BYPASSRLS keep full access, because the
-- tables have row-level security enabled but not forced. The owner runs
-- migrations and the programs of an operator who works on all accounts.

-- The accounts that each role, and every role that inherits its
-- privileges, may use. Roles are named rather than given by OID so that
-- the mapping survives pg_dump and a restore into another cluster.
CREATE TABLE convo.account_roles (
    account_id bigint NOT NULL REFERENCES convo.accounts ON DELETE CASCADE,
    role_name text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, role_name),
    -- The longest role name PostgreSQL keeps (NAMEDATALEN - 1 bytes).
    CHECK (octet_length(role_name) BETWEEN 1 AND 63)
);

-- A role sees the mapping rows of the roles whose privileges it has.
-- Joining pg_roles by name skips the rows of dropped roles, where
-- pg_has_role(text, ...) would raise an error.
ALTER TABLE convo.account_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY role_member ON convo.account_roles
    FOR SELECT
    USING (EXISTS (SELECT 1 FROM pg_catalog.pg_roles g
        WHERE g.rolname = account_roles.role_name
            AND pg_catalog.pg_has_role(g.oid, 'USAGE')));

-- Return the ids of the accounts the current role may use. The body is
-- parsed when the function is created (BEGIN ATOMIC), so a caller's
-- search_path cannot replace the objects it refers to. Policies call it
-- as (SELECT convo.current_account_ids()), an InitPlan that runs once
-- per query, and compare account_id with = ANY, which an index scan can
-- use as a condition. The cast to bigint[] makes ANY take the array:
-- ANY ((SELECT ...)) alone would compare with each row of the subquery.
CREATE FUNCTION convo.current_account_ids() RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT coalesce(array_agg(r.account_id ORDER BY r.account_id),
        '{}'::bigint[])
    FROM convo.account_roles r;
END;

-- Reference tables have no account_id and are the same for every
-- account: mapped roles may read them, and only the owner writes them.
ALTER TABLE convo.keyword_packs ENABLE ROW LEVEL SECURITY;
CREATE POLICY reference_read ON convo.keyword_packs
    FOR SELECT
    USING (true);

-- Every program reads the schema version when it connects.
ALTER TABLE convo.schema_version ENABLE ROW LEVEL SECURITY;
CREATE POLICY reference_read ON convo.schema_version
    FOR SELECT
    USING (true);

-- Grant role P_ROLE what the convo programs need on every table of the
-- schema that has row-level security enabled: all of SELECT, INSERT,
-- UPDATE and DELETE on tables with account_id; SELECT and UPDATE of the
-- settings columns of accounts (not its id, name or creation time);
-- SELECT on the others. A table without row-level security is left
-- out, so that a mapped role never reads one unconfined.
CREATE FUNCTION convo.role_privileges_grant(p_role text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    v_columns text;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA convo TO %I', p_role);
    FOR t IN SELECT c.oid::regclass AS tab, c.relname,
            EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = c.oid AND a.attname = 'account_id'
                    AND NOT a.attisdropped) AS has_account
        FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'convo'::regnamespace
            AND c.relkind IN ('r', 'p') AND c.relrowsecurity
        ORDER BY c.relname
    LOOP
        IF t.relname = 'accounts' THEN
            SELECT string_agg(quote_ident(a.attname), ', '
                ORDER BY a.attnum)
            INTO v_columns
            FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = t.tab AND a.attnum > 0
                AND NOT a.attisdropped
                AND a.attname NOT IN ('account_id', 'name', 'created_at');
            EXECUTE format('GRANT SELECT ON %s TO %I', t.tab, p_role);
            EXECUTE format('GRANT UPDATE (%s) ON %s TO %I', v_columns,
                t.tab, p_role);
        ELSIF t.has_account AND t.relname <> 'account_roles' THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s '
                'TO %I', t.tab, p_role);
        ELSE
            EXECUTE format('GRANT SELECT ON %s TO %I', t.tab, p_role);
        END IF;
    END LOOP;
    -- Identity columns take their values from these sequences.
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA convo TO %I',
        p_role);
END;
$$;

-- Take back from role P_ROLE everything role_privileges_grant gives.
-- Revoking a table privilege also revokes it on each column.
CREATE FUNCTION convo.role_privileges_revoke(p_role text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA convo FROM %I',
        p_role);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA convo FROM %I',
        p_role);
    EXECUTE format('REVOKE USAGE ON SCHEMA convo FROM %I', p_role);
END;
$$;

-- Put every table of the schema under row-level security: enable it
-- where it is off, give each table with account_id and no policy of its
-- own the policy account_isolation, and grant the mapped roles their
-- privileges again, so that tables added by later migrations are
-- covered. A table without account_id and without a policy stays closed
-- to mapped roles: row-level security denies every row it has no policy
-- for. convo-db migrate calls this after it applies migrations.
CREATE FUNCTION convo.tenant_isolate() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    v_role text;
BEGIN
    FOR t IN SELECT c.oid::regclass AS tab, c.relrowsecurity,
            EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = c.oid AND a.attname = 'account_id'
                    AND NOT a.attisdropped) AS has_account,
            EXISTS (SELECT 1 FROM pg_catalog.pg_policy p
                WHERE p.polrelid = c.oid) AS has_policy
        FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'convo'::regnamespace
            AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
    LOOP
        IF NOT t.relrowsecurity THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY',
                t.tab);
        END IF;
        -- One permissive policy for every command: USING filters the
        -- rows a statement reads, updates or deletes, and WITH CHECK
        -- rejects a new or changed row of another account.
        IF t.has_account AND NOT t.has_policy THEN
            EXECUTE format('CREATE POLICY account_isolation ON %s '
                'USING (account_id = ANY ((SELECT '
                'convo.current_account_ids())::bigint[])) '
                'WITH CHECK (account_id = ANY ((SELECT '
                'convo.current_account_ids())::bigint[]))', t.tab);
        END IF;
    END LOOP;
    FOR v_role IN SELECT DISTINCT r.role_name FROM convo.account_roles r
        JOIN pg_catalog.pg_roles g ON g.rolname = r.role_name
        ORDER BY 1
    LOOP
        PERFORM convo.role_privileges_grant(v_role);
    END LOOP;
END;
$$;

-- Map role P_ROLE to account P_ACCOUNT (a name), creating the role
-- NOLOGIN when it does not exist, and grant it its privileges. Returns
-- 'created' for a new role, 'mapped' for an existing role newly mapped,
-- 'unchanged' when the mapping existed (its privileges are granted
-- again). Raises invalid_parameter_value for a role that row-level
-- security cannot confine.
CREATE FUNCTION convo.account_grant(p_account text, p_role text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_account bigint;
    v_role pg_catalog.pg_roles;
    v_owner oid;
    v_result text := 'mapped';
BEGIN
    SELECT a.account_id INTO v_account FROM convo.accounts a
    WHERE a.name = p_account;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" not found', p_account
            USING ERRCODE = 'no_data_found';
    END IF;
    IF p_role IS NULL OR p_role = '' OR octet_length(p_role) > 63 THEN
        RAISE EXCEPTION 'invalid role name "%": expected 1 to 63 bytes',
            p_role USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_role LIKE 'pg\_%' THEN
        RAISE EXCEPTION 'invalid role name "%": names starting with pg_ '
            'are reserved for PostgreSQL', p_role
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_role FROM pg_catalog.pg_roles g
    WHERE g.rolname = p_role;
    IF NOT FOUND THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', p_role);
        v_result := 'created';
    ELSIF v_role.rolsuper OR v_role.rolbypassrls THEN
        RAISE EXCEPTION 'role "%" is a superuser or has BYPASSRLS, so '
            'row-level security cannot confine it', p_role
            USING ERRCODE = 'invalid_parameter_value';
    ELSE
        -- The owner of a table, and every role that inherits the
        -- owner's privileges, bypasses its row-level security.
        SELECT c.relowner INTO v_owner FROM pg_catalog.pg_class c
        WHERE c.oid = 'convo.accounts'::regclass;
        IF pg_catalog.pg_has_role(v_role.oid, v_owner, 'USAGE') THEN
            RAISE EXCEPTION 'role "%" owns the convo tables or inherits '
                'the privileges of their owner, so row-level security '
                'cannot confine it', p_role
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    INSERT INTO convo.account_roles (account_id, role_name)
    VALUES (v_account, p_role)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        v_result := 'unchanged';
    END IF;
    PERFORM convo.role_privileges_grant(p_role);
    RETURN v_result;
END;
$$;

-- Remove the mapping of role P_ROLE to account P_ACCOUNT (a name).
-- When the role is left with no account, its privileges on the schema
-- are revoked too; the role itself is kept. Returns false when there
-- was no such mapping.
CREATE FUNCTION convo.account_revoke(p_account text, p_role text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_account bigint;
BEGIN
    SELECT a.account_id INTO v_account FROM convo.accounts a
    WHERE a.name = p_account;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" not found', p_account
            USING ERRCODE = 'no_data_found';
    END IF;
    DELETE FROM convo.account_roles r
    WHERE r.account_id = v_account AND r.role_name = p_role;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM convo.account_roles r
            WHERE r.role_name = p_role)
        AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles g
            WHERE g.rolname = p_role) THEN
        PERFORM convo.role_privileges_revoke(p_role);
    END IF;
    RETURN true;
END;
$$;

SELECT convo.tenant_isolate();
