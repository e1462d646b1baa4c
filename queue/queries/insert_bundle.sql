-- $1 id, $2 owner, $3 name, $4 spec, $5 variant_count, $6 job_count, $7 priority, $8 execution
INSERT INTO bundles (id, owner, name, spec, variant_count, job_count, priority, execution)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
