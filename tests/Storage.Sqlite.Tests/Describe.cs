using System.Globalization;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Sqlite.Tests;

/// <summary>Text forms of store records that compare by value (tags, lock sets and times included).</summary>
internal static class Describe
{
    public static string Instance(OrchestrationMetadata? m) => m is null
        ? "null"
        : string.Join(
            '|',
            m.InstanceId, m.Name, m.Version, m.ExecutionId, m.Status, Time(m.CreatedAt), Time(m.LastUpdatedAt), Time(m.CompletedAt),
            Time(m.ScheduledStartAt), m.SerializedInput, m.SerializedOutput, m.SerializedCustomStatus, m.FailureDetails, m.ParentInstanceId,
            string.Join(',', m.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}")), m.TraceParent);

    public static string Entity(EntityRecord e) => string.Join(
        '|', e.InstanceId, e.SerializedState, Time(e.LastModifiedAt), e.LockedBy, e.CriticalSectionId, e.LockSet is null ? "null" : string.Join(',', e.LockSet));

    public static string State(RecoveredState s) => string.Join(
        '\n',
        [
            .. s.ActiveInstances.Select(Instance).Order(StringComparer.Ordinal),
            .. s.Messages.Select(m => $"{m.Sequence}|{m.InstanceId}|{Time(m.VisibleAt)}|{m.Event}"),
            .. s.Activities.Select(a => $"{a.Sequence}|{a.Request}"),
            .. s.Entities.Select(Entity).Order(StringComparer.Ordinal),
            $"max={s.MaxSequence}",
        ]);

    public static string Page(InstancePage page) =>
        string.Join('\n', page.Instances.Select(Instance)) + "\ntoken=" + page.ContinuationToken;

    private static string Time(DateTime? t) => t is { } v ? v.Ticks.ToString(CultureInfo.InvariantCulture) + v.Kind : "-";
}
