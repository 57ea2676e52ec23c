using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>
/// A store batch with its blobs and JSON already encoded, queued for the writer. Encoding happens on the
/// caller's thread, so the single writer only binds parameters and steps statements.
/// </summary>
internal sealed class SqliteEncodedBatch
{
    public SqliteEncodedBatch(StoreBatch batch)
    {
        Batch = batch;
        InstanceFailures = new byte[]?[batch.UpsertInstances.Count];
        InstanceTags = new string?[batch.UpsertInstances.Count];
        for (var i = 0; i < batch.UpsertInstances.Count; i++)
        {
            var instance = batch.UpsertInstances[i];
            InstanceFailures[i] = instance.FailureDetails is { } failure ? SqliteRecords.Encode(failure.ToProto()) : null;
            InstanceTags[i] = SqliteRecords.EncodeTags(instance.Tags);
        }

        History = new byte[batch.AppendHistory.Count][][];
        for (var i = 0; i < batch.AppendHistory.Count; i++)
        {
            var events = batch.AppendHistory[i].Events;
            var encoded = History[i] = new byte[events.Count][];
            for (var j = 0; j < events.Count; j++)
            {
                encoded[j] = SqliteRecords.Encode(events[j]);
            }
        }

        Messages = new byte[batch.InsertMessages.Count][];
        for (var i = 0; i < Messages.Length; i++)
        {
            Messages[i] = SqliteRecords.Encode(batch.InsertMessages[i].Event);
        }

        Activities = new byte[batch.InsertActivities.Count][];
        for (var i = 0; i < Activities.Length; i++)
        {
            Activities[i] = SqliteRecords.Encode(batch.InsertActivities[i].Request);
        }

        EntityLockSets = new string?[batch.UpsertEntities.Count];
        for (var i = 0; i < EntityLockSets.Length; i++)
        {
            EntityLockSets[i] = SqliteRecords.EncodeLockSet(batch.UpsertEntities[i].LockSet);
        }
    }

    /// <summary>The batch as the store gave it; its lists are not touched while the caller awaits the commit.</summary>
    public StoreBatch Batch { get; }

    /// <summary>Per upserted instance: its failure details as protobuf bytes.</summary>
    public byte[]?[] InstanceFailures { get; }

    /// <summary>Per upserted instance: its tags as JSON.</summary>
    public string?[] InstanceTags { get; }

    /// <summary>Per history append, per event: protobuf bytes.</summary>
    public byte[][][] History { get; }

    /// <summary>Per inserted message: protobuf bytes of its event.</summary>
    public byte[][] Messages { get; }

    /// <summary>Per inserted activity: protobuf bytes of its request.</summary>
    public byte[][] Activities { get; }

    /// <summary>Per upserted entity: its lock set as JSON.</summary>
    public string?[] EntityLockSets { get; }

    /// <summary>Completed by the writer once the transaction carrying this batch committed (or failed).</summary>
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Why this batch failed; null while it has not.</summary>
    public Exception? Error { get; set; }
}
