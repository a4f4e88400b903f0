-- Each pair appears once, in name order, never pairs an actor with itself, and is backed by
-- at least one article.
select actor_a, actor_b, articles, sentences
from {{ ref('co_mentions') }}
where actor_a >= actor_b or articles < 1
