using KataWorkflows.Protocol.Agent.Legacy;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.GuestAgent.Service;

/// <summary>Registers the agent's methods on a ttrpc server under Kata's service names.</summary>
internal static class AgentMethods
{
    public const string AgentServiceName = "grpc.AgentService";
    public const string HealthServiceName = "grpc.Health";

    public static void Register(TtrpcServer server, AgentService agent)
    {
        server.Register(HealthServiceName, "Check", CheckRequest.Parser, (r, _, c) => agent.CheckAsync(r, c));
        server.Register(HealthServiceName, "Version", CheckRequest.Parser, (r, _, c) => agent.VersionAsync(r, c));

        server.Register(AgentServiceName, "CreateSandbox", CreateSandboxRequest.Parser, (r, _, c) => agent.CreateSandboxAsync(r, c));
        server.Register(AgentServiceName, "DestroySandbox", DestroySandboxRequest.Parser, (r, _, c) => agent.DestroySandboxAsync(r, c));
        server.Register(AgentServiceName, "CreateContainer", CreateContainerRequest.Parser, (r, _, c) => agent.CreateContainerAsync(r, c));
        server.Register(AgentServiceName, "StartContainer", StartContainerRequest.Parser, (r, _, c) => agent.StartContainerAsync(r, c));
        server.Register(AgentServiceName, "RemoveContainer", RemoveContainerRequest.Parser, (r, _, c) => agent.RemoveContainerAsync(r, c));
        server.Register(AgentServiceName, "ExecProcess", ExecProcessRequest.Parser, (r, _, c) => agent.ExecProcessAsync(r, c));
        server.Register(AgentServiceName, "SignalProcess", SignalProcessRequest.Parser, (r, _, c) => agent.SignalProcessAsync(r, c));
        server.Register(AgentServiceName, "WaitProcess", WaitProcessRequest.Parser, (r, _, c) => agent.WaitProcessAsync(r, c));
        server.Register(AgentServiceName, "ListProcesses", ListProcessesRequest.Parser, (r, _, c) => agent.ListProcessesAsync(r, c));
        server.Register(AgentServiceName, "UpdateContainer", UpdateContainerRequest.Parser, (r, _, c) => agent.UpdateContainerAsync(r, c));
        server.Register(AgentServiceName, "StatsContainer", StatsContainerRequest.Parser, (r, _, c) => agent.StatsContainerAsync(r, c));
        server.Register(AgentServiceName, "PauseContainer", PauseContainerRequest.Parser, (r, _, c) => agent.PauseContainerAsync(r, c));
        server.Register(AgentServiceName, "ResumeContainer", ResumeContainerRequest.Parser, (r, _, c) => agent.ResumeContainerAsync(r, c));
        server.Register(AgentServiceName, "WriteStdin", WriteStreamRequest.Parser, (r, _, c) => agent.WriteStdinAsync(r, c));
        server.Register(AgentServiceName, "ReadStdout", ReadStreamRequest.Parser, (r, _, c) => agent.ReadStdoutAsync(r, c));
        server.Register(AgentServiceName, "ReadStderr", ReadStreamRequest.Parser, (r, _, c) => agent.ReadStderrAsync(r, c));
        server.Register(AgentServiceName, "CloseStdin", CloseStdinRequest.Parser, (r, _, c) => agent.CloseStdinAsync(r, c));
        server.Register(AgentServiceName, "TtyWinResize", TtyWinResizeRequest.Parser, (r, _, c) => agent.TtyWinResizeAsync(r, c));
        server.Register(AgentServiceName, "UpdateInterface", UpdateInterfaceRequest.Parser, (r, _, c) => agent.UpdateInterfaceAsync(r, c));
        server.Register(AgentServiceName, "UpdateRoutes", UpdateRoutesRequest.Parser, (r, _, c) => agent.UpdateRoutesAsync(r, c));
        server.Register(AgentServiceName, "ListInterfaces", ListInterfacesRequest.Parser, (r, _, c) => agent.ListInterfacesAsync(r, c));
        server.Register(AgentServiceName, "ListRoutes", ListRoutesRequest.Parser, (r, _, c) => agent.ListRoutesAsync(r, c));
        server.Register(AgentServiceName, "GetGuestDetails", GuestDetailsRequest.Parser, (r, _, c) => agent.GetGuestDetailsAsync(r, c));
        server.Register(AgentServiceName, "OnlineCPUMem", OnlineCPUMemRequest.Parser, (r, _, c) => agent.OnlineCpuMemAsync(r, c));
        server.Register(AgentServiceName, "SetGuestDateTime", SetGuestDateTimeRequest.Parser, (r, _, c) => agent.SetGuestDateTimeAsync(r, c));
        server.Register(AgentServiceName, "CopyFile", CopyFileRequest.Parser, (r, _, c) => agent.CopyFileAsync(r, c));
    }
}
