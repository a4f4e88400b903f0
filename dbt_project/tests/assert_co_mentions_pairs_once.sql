-- Each pair appears once, in name order (id order between namesakes), never pairs an actor
-- with itself, and is backed by at least one article.
select actor_a_id, actor_a, actor_b_id, actor_b, articles, sentences
from {{ ref('co_mentions') }}
where actor_a > actor_b or (actor_a = actor_b and actor_a_id >= actor_b_id) or articles < 1
