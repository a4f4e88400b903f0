-- Ranks run 1..n without gaps for every speaker, n at most var('top_quotes_per_actor').
select speaker_id, count(*) as n, min(rank) as lo, max(rank) as hi
from {{ ref('top_quotes') }}
group by speaker_id
having min(rank) != 1 or max(rank) != count(*) or count(*) > {{ var('top_quotes_per_actor', 10) }}
