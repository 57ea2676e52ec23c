namespace KataWorkflows.Engine;

/// <summary>The rules every instance id obeys: it names rows, files and log lines, so it must be printable and bounded.</summary>
public static class InstanceIds
{
    /// <summary>The longest instance id accepted.</summary>
    public const int MaxLength = 256;

    /// <summary>Checks an orchestration instance id; the message says what is wrong with it.</summary>
    /// <exception cref="ArgumentException">The id is empty, too long, has control characters or uses the entity form.</exception>
    public static void Validate(string? instanceId, string parameterName = "instanceId")
    {
        if (string.IsNullOrEmpty(instanceId))
        {
            throw new ArgumentException("The instance id is empty.", parameterName);
        }

        if (instanceId.Length > MaxLength)
        {
            throw new ArgumentException($"The instance id is {instanceId.Length} characters long; at most {MaxLength} are allowed.", parameterName);
        }

        for (var i = 0; i < instanceId.Length; i++)
        {
            if (char.IsControl(instanceId[i]))
            {
                throw new ArgumentException($"The instance id has a control character (U+{(int)instanceId[i]:X4}) at position {i}.", parameterName);
            }
        }

        if (instanceId[0] == '@')
        {
            throw new ArgumentException("The instance id starts with '@', which is reserved for entity ids (@name@key).", parameterName);
        }
    }
}
