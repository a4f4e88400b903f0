-- How often each actor is mentioned, in how many articles, and when first and last seen.
-- One row per corpus-wide actor; see the actors model for how names and types are chosen.
select
    actor_id,
    name as actor,
    actor_type,
    mentions,
    articles,
    first_seen,
    last_seen,
    gender
from {{ ref('actors') }}
