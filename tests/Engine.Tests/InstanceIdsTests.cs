namespace KataWorkflows.Engine.Tests;

public sealed class InstanceIdsTests
{
    [Fact]
    public void Ordered_ids_made_in_a_tight_loop_strictly_increase()
    {
        // Far more ids than one millisecond's 4,096 counter values: the counter carries into the time stamp.
        var ids = Enumerable.Range(0, 20_000).Select(_ => InstanceIds.NewOrderedId()).ToList();

        for (var i = 1; i < ids.Count; i++)
        {
            Assert.True(string.CompareOrdinal(ids[i - 1], ids[i]) < 0, $"id #{i} ({ids[i]}) does not sort after {ids[i - 1]}");
        }
    }

    [Fact]
    public void Ordered_ids_from_many_threads_are_unique_and_valid()
    {
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                ids.Add(InstanceIds.NewOrderedId());
            }
        });

        Assert.Equal(40_000, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(ids, id => InstanceIds.Validate(id));
    }

    [Fact]
    public void An_ordered_id_is_a_version_7_UUID_that_starts_with_the_current_unix_milliseconds()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var id = InstanceIds.NewOrderedId();

        Assert.Matches("^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$", id);
        var guid = Guid.ParseExact(id, "N");
        Assert.Equal(7, guid.Version);
        var milliseconds = Convert.ToInt64(id[..12], 16);

        // Ids made earlier in this process may have run the stamp ahead of the clock by their counter's carry.
        Assert.InRange(milliseconds, before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1_000);
    }
}
